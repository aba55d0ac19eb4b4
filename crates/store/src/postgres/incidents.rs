//! Incidents in PostgreSQL.

use cardwatch_core::date::Timestamp;
use cardwatch_core::triage::{CauseCount, Incident, NewIncident};
use postgres::Client;

use super::PgTx;
use crate::incidents::{from_columns, Columns, IncidentTx, COLUMNS};
use crate::tx::Tx;
use crate::StoreError;

fn columns(r: &postgres::Row) -> Result<Columns, postgres::Error> {
    Ok((
        r.try_get(0)?,
        r.try_get(1)?,
        r.try_get(2)?,
        r.try_get(3)?,
        r.try_get(4)?,
        r.try_get(5)?,
        r.try_get(6)?,
        r.try_get(7)?,
        r.try_get(8)?,
        r.try_get(9)?,
        r.try_get(10)?,
        r.try_get(11)?,
        r.try_get(12)?,
        r.try_get(13)?,
        r.try_get(14)?,
    ))
}

impl IncidentTx for PgTx<'_, '_> {
    fn as_tx(&mut self) -> &mut dyn Tx {
        self
    }

    fn insert_incident(&mut self, at: Timestamp, n: &NewIncident) -> Result<i64, StoreError> {
        let row = self.tx.query_one(
            "INSERT INTO incidents (opened_at, reporter, site, card_serial, hostname, application, \
             doing, symptom, error_text) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
            &[
                &at.unix(),
                &n.reporter,
                &n.site,
                &n.card_serial,
                &n.hostname,
                &n.application,
                &n.doing,
                &n.symptom,
                &n.error_text,
            ],
        )?;
        Ok(row.try_get(0)?)
    }

    fn incident_for_update(&mut self, id: i64) -> Result<Option<Incident>, StoreError> {
        let row = self.tx.query_opt(
            &format!("SELECT {COLUMNS} FROM incidents WHERE id = $1 FOR UPDATE"),
            &[&id],
        )?;
        row.map(|r| from_columns(columns(&r)?)).transpose()
    }

    fn put_incident(&mut self, i: &Incident) -> Result<(), StoreError> {
        self.tx.execute(
            "UPDATE incidents SET steps = $2, status = $3, confirmed_cause = $4, \
             minutes_to_fix = $5, closed_at = $6 WHERE id = $1",
            &[
                &i.id,
                &serde_json::to_string(&i.steps).unwrap_or_default(),
                &i.status.as_str(),
                &i.confirmed_cause,
                &i.minutes_to_fix,
                &i.closed_at.map(Timestamp::unix),
            ],
        )?;
        Ok(())
    }

    fn insert_incidents(&mut self, list: &[Incident]) -> Result<Vec<i64>, StoreError> {
        let mut ids = Vec::with_capacity(list.len());
        for chunk in list.chunks(crate::incidents::INSERT_ROWS) {
            let steps: Vec<String> = chunk
                .iter()
                .map(|i| serde_json::to_string(&i.steps).unwrap_or_default())
                .collect();
            let (opened, closed): (Vec<i64>, Vec<Option<i64>>) = chunk
                .iter()
                .map(|i| (i.opened_at.unix(), i.closed_at.map(Timestamp::unix)))
                .unzip();
            let status: Vec<&str> = chunk.iter().map(|i| i.status.as_str()).collect();
            let mut params: Vec<&(dyn postgres::types::ToSql + Sync)> = Vec::new();
            let mut rows = Vec::with_capacity(chunk.len());
            for (k, i) in chunk.iter().enumerate() {
                let n = params.len();
                rows.push(format!(
                    "({})",
                    (1..=14)
                        .map(|c| format!("${}", n + c))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
                params.extend_from_slice(&[
                    &opened[k],
                    &i.opened.reporter,
                    &i.opened.site,
                    &i.opened.card_serial,
                    &i.opened.hostname,
                    &i.opened.application,
                    &i.opened.doing,
                    &i.opened.symptom,
                    &i.opened.error_text,
                    &steps[k],
                    &status[k],
                    &i.confirmed_cause,
                    &i.minutes_to_fix,
                    &closed[k],
                ]);
            }
            let inserted = self.tx.query(
                &format!(
                    "INSERT INTO incidents (opened_at, reporter, site, card_serial, hostname, \
                     application, doing, symptom, error_text, steps, status, confirmed_cause, \
                     minutes_to_fix, closed_at) VALUES {} RETURNING id",
                    rows.join(", ")
                ),
                &params,
            )?;
            let got: Vec<i64> = inserted
                .iter()
                .map(|r| r.try_get(0))
                .collect::<Result<_, _>>()?;
            ids.extend(crate::incidents::in_row_order(got));
        }
        Ok(ids)
    }
}

pub(super) fn one(client: &mut Client, id: i64) -> Result<Option<Incident>, StoreError> {
    let row = client.query_opt(
        &format!("SELECT {COLUMNS} FROM incidents WHERE id = $1"),
        &[&id],
    )?;
    row.map(|r| from_columns(columns(&r)?)).transpose()
}

pub(super) fn newest(client: &mut Client, limit: usize) -> Result<Vec<Incident>, StoreError> {
    let rows = client.query(
        &format!("SELECT {COLUMNS} FROM incidents ORDER BY id DESC LIMIT $1"),
        &[&(limit as i64)],
    )?;
    rows.iter().map(|r| from_columns(columns(r)?)).collect()
}

pub(super) fn cause_counts(client: &mut Client) -> Result<Vec<CauseCount>, StoreError> {
    let rows = client.query(
        "SELECT site, symptom, confirmed_cause, COUNT(*) FROM incidents \
         WHERE status = 'resolved' AND confirmed_cause IS NOT NULL \
         GROUP BY site, symptom, confirmed_cause ORDER BY site, symptom, confirmed_cause",
        &[],
    )?;
    rows.iter()
        .map(|r| {
            Ok(CauseCount {
                site: r.try_get(0)?,
                symptom: r.try_get(1)?,
                cause: r.try_get(2)?,
                n: r.try_get::<_, i64>(3)? as u64,
            })
        })
        .collect()
}

pub(super) fn recent(
    client: &mut Client,
    site: &str,
    symptom: &str,
    since: Timestamp,
    except: Option<i64>,
) -> Result<u32, StoreError> {
    let row = client.query_one(
        "SELECT COUNT(*) FROM incidents WHERE site = $1 AND symptom = $2 AND opened_at >= $3 \
         AND id <> $4",
        &[&site, &symptom, &since.unix(), &except.unwrap_or(-1)],
    )?;
    Ok(row.try_get::<_, i64>(0)? as u32)
}
