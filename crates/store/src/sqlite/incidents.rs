//! Incidents in SQLite.

use cardwatch_core::date::Timestamp;
use cardwatch_core::triage::{CauseCount, Incident, NewIncident};
use rusqlite::{params, Connection, OptionalExtension};

use super::SqliteTx;
use crate::incidents::{from_columns, Columns, IncidentTx, COLUMNS};
use crate::tx::Tx;
use crate::StoreError;

fn columns(r: &rusqlite::Row<'_>) -> rusqlite::Result<Columns> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get(8)?,
        r.get(9)?,
        r.get(10)?,
        r.get(11)?,
        r.get(12)?,
        r.get(13)?,
        r.get(14)?,
    ))
}

impl IncidentTx for SqliteTx<'_> {
    fn as_tx(&mut self) -> &mut dyn Tx {
        self
    }

    fn insert_incident(&mut self, at: Timestamp, n: &NewIncident) -> Result<i64, StoreError> {
        Ok(self.tx.query_row(
            "INSERT INTO incidents (opened_at, reporter, site, card_serial, hostname, application, \
             doing, symptom, error_text) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) RETURNING id",
            params![
                at.unix(),
                n.reporter,
                n.site,
                n.card_serial,
                n.hostname,
                n.application,
                n.doing,
                n.symptom,
                n.error_text
            ],
            |r| r.get(0),
        )?)
    }

    fn incident_for_update(&mut self, id: i64) -> Result<Option<Incident>, StoreError> {
        // BEGIN IMMEDIATE already holds the write lock.
        let row = self
            .tx
            .query_row(
                &format!("SELECT {COLUMNS} FROM incidents WHERE id = ?1"),
                [id],
                columns,
            )
            .optional()?;
        row.map(from_columns).transpose()
    }

    fn put_incident(&mut self, i: &Incident) -> Result<(), StoreError> {
        self.tx.execute(
            "UPDATE incidents SET steps = ?2, status = ?3, confirmed_cause = ?4, \
             minutes_to_fix = ?5, closed_at = ?6 WHERE id = ?1",
            params![
                i.id,
                serde_json::to_string(&i.steps).unwrap_or_default(),
                i.status.as_str(),
                i.confirmed_cause,
                i.minutes_to_fix,
                i.closed_at.map(Timestamp::unix)
            ],
        )?;
        Ok(())
    }

    fn insert_incidents(&mut self, list: &[Incident]) -> Result<Vec<i64>, StoreError> {
        let mut ids = Vec::with_capacity(list.len());
        for chunk in list.chunks(crate::incidents::INSERT_ROWS) {
            let mut params: Vec<rusqlite::types::Value> = Vec::with_capacity(chunk.len() * 14);
            let mut rows = Vec::with_capacity(chunk.len());
            for i in chunk {
                let n = params.len();
                rows.push(format!(
                    "({})",
                    (1..=14)
                        .map(|c| format!("?{}", n + c))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
                let text = |t: &Option<String>| {
                    t.clone()
                        .map_or(rusqlite::types::Value::Null, rusqlite::types::Value::Text)
                };
                params.extend([
                    i.opened_at.unix().into(),
                    i.opened.reporter.clone().into(),
                    text(&i.opened.site),
                    text(&i.opened.card_serial),
                    text(&i.opened.hostname),
                    text(&i.opened.application),
                    text(&i.opened.doing),
                    i.opened.symptom.clone().into(),
                    text(&i.opened.error_text),
                    serde_json::to_string(&i.steps).unwrap_or_default().into(),
                    i.status.as_str().to_owned().into(),
                    text(&i.confirmed_cause),
                    i.minutes_to_fix.into(),
                    i.closed_at.map(Timestamp::unix).into(),
                ]);
            }
            let mut stmt = self.tx.prepare(&format!(
                "INSERT INTO incidents (opened_at, reporter, site, card_serial, hostname, \
                 application, doing, symptom, error_text, steps, status, confirmed_cause, \
                 minutes_to_fix, closed_at) VALUES {} RETURNING id",
                rows.join(", ")
            ))?;
            let got = stmt
                .query_map(rusqlite::params_from_iter(params), |r| r.get(0))?
                .collect::<Result<Vec<i64>, _>>()?;
            ids.extend(crate::incidents::in_row_order(got));
        }
        Ok(ids)
    }
}

pub(super) fn one(conn: &Connection, id: i64) -> Result<Option<Incident>, StoreError> {
    let row = conn
        .query_row(
            &format!("SELECT {COLUMNS} FROM incidents WHERE id = ?1"),
            [id],
            columns,
        )
        .optional()?;
    row.map(from_columns).transpose()
}

pub(super) fn newest(conn: &Connection, limit: usize) -> Result<Vec<Incident>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM incidents ORDER BY id DESC LIMIT ?1"
    ))?;
    let rows = stmt.query_map([limit as i64], columns)?;
    rows.map(|r| from_columns(r?)).collect()
}

pub(super) fn cause_counts(conn: &Connection) -> Result<Vec<CauseCount>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT site, symptom, confirmed_cause, COUNT(*) FROM incidents \
         WHERE status = 'resolved' AND confirmed_cause IS NOT NULL \
         GROUP BY site, symptom, confirmed_cause ORDER BY site, symptom, confirmed_cause",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(CauseCount {
            site: r.get(0)?,
            symptom: r.get(1)?,
            cause: r.get(2)?,
            n: r.get::<_, i64>(3)? as u64,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub(super) fn recent(
    conn: &Connection,
    site: &str,
    symptom: &str,
    since: Timestamp,
    except: Option<i64>,
) -> Result<u32, StoreError> {
    let n: i64 = conn.query_row(
        "SELECT COUNT(*) FROM incidents WHERE site = ?1 AND symptom = ?2 AND opened_at >= ?3 \
         AND id <> ?4",
        params![site, symptom, since.unix(), except.unwrap_or(-1)],
        |r| r.get(0),
    )?;
    Ok(n as u32)
}
