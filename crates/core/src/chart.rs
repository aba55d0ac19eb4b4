//! Charts as SVG text, each with its data as a table beside it (the table is the accessible
//! alternative; the SVG is `aria-hidden`). Bars for counts, an optional line for a limit such
//! as RA capacity. Pure: no fonts are measured, labels are placed by count.

use std::fmt::Write as _;

/// One bar group: a label and one value per series.
#[derive(Clone, Debug, PartialEq)]
pub struct Bar {
    /// Its label on the x axis (every few are shown).
    pub label: String,
    /// A value per series, in series order.
    pub values: Vec<f64>,
}

/// A bar chart.
#[derive(Clone, Debug, PartialEq)]
pub struct BarChart {
    /// Title, also the table's caption.
    pub title: String,
    /// The series' names, in order (drawn as bars side by side).
    pub series: Vec<String>,
    /// The bars.
    pub bars: Vec<Bar>,
    /// A limit drawn as a line across each bar group, with its name (e.g. capacity).
    pub limit: Option<(String, Vec<f64>)>,
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// NHS.UK colours for the series (blue, warm yellow, green, red).
const COLOURS: [&str; 4] = ["#005eb8", "#ffb81c", "#007f3b", "#d5281b"];
/// The limit line's colour (NHS dark grey).
const LIMIT: &str = "#425563";

impl BarChart {
    /// The chart as SVG, `width` by `height` user units.
    pub fn svg(&self, width: f64, height: f64) -> String {
        let (left, right, top, bottom) = (48.0, 12.0, 12.0, 40.0);
        let plot_w = (width - left - right).max(1.0);
        let plot_h = (height - top - bottom).max(1.0);
        let max = self
            .bars
            .iter()
            .flat_map(|b| b.values.iter().copied())
            .chain(self.limit.iter().flat_map(|(_, l)| l.iter().copied()))
            .fold(0.0_f64, f64::max);
        // The axis runs to three whole steps at or above the tallest value, so each of its four
        // labels is a different whole number (1 would label 0, 0, 1, 1 in thirds).
        let step = (max / 3.0).ceil().max(1.0);
        let max = step * 3.0;
        let n = self.bars.len().max(1) as f64;
        let group = plot_w / n;
        let k = self.series.len().max(1) as f64;
        let bar_w = (group * 0.8 / k).max(0.5);
        let y = |v: f64| top + plot_h - v / max * plot_h;
        let mut s = String::new();
        let _ = write!(
            s,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {width} {height}\" role=\"img\" aria-hidden=\"true\" font-family=\"Arial, sans-serif\" font-size=\"11\">"
        );
        // Axis and three gridlines, labelled.
        for i in 0..=3 {
            let v = step * f64::from(i);
            let yy = y(v);
            let _ = write!(
                s,
                "<line x1=\"{left}\" x2=\"{}\" y1=\"{yy:.1}\" y2=\"{yy:.1}\" stroke=\"#d8dde0\"/><text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{:.0}</text>",
                left + plot_w,
                left - 4.0,
                yy + 4.0,
                v
            );
        }
        for (i, b) in self.bars.iter().enumerate() {
            let x0 = left + group * i as f64 + group * 0.1;
            for (j, v) in b.values.iter().enumerate() {
                let x = x0 + bar_w * j as f64;
                let _ = write!(
                    s,
                    "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{bar_w:.1}\" height=\"{:.1}\" fill=\"{}\"/>",
                    y(*v),
                    top + plot_h - y(*v),
                    COLOURS[j % COLOURS.len()]
                );
            }
            // About eight labels along the axis, whatever the number of bars.
            let every = (self.bars.len() / 8).max(1);
            if i % every == 0 {
                let _ = write!(
                    s,
                    "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                    x0 + group * 0.4,
                    top + plot_h + 16.0,
                    escape(&b.label)
                );
            }
        }
        if let Some((_, limit)) = &self.limit {
            let points: Vec<String> = limit
                .iter()
                .enumerate()
                .map(|(i, v)| format!("{:.1},{:.1}", left + group * (i as f64 + 0.5), y(*v)))
                .collect();
            let _ = write!(
                s,
                "<polyline points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\"/>",
                points.join(" "),
                LIMIT
            );
        }
        // The key.
        let names = self
            .series
            .iter()
            .cloned()
            .chain(self.limit.iter().map(|(n, _)| n.clone()));
        for (j, name) in names.enumerate() {
            let x = left + 140.0 * j as f64;
            let colour = if j < self.series.len() {
                COLOURS[j % COLOURS.len()]
            } else {
                LIMIT
            };
            let _ = write!(
                s,
                "<rect x=\"{x}\" y=\"{:.1}\" width=\"10\" height=\"10\" fill=\"{colour}\"/><text x=\"{}\" y=\"{:.1}\">{}</text>",
                height - 14.0,
                x + 14.0,
                height - 5.0,
                escape(&name)
            );
        }
        s.push_str("</svg>");
        s
    }

    /// The chart and, in an NHS.UK details element, its table: what a page shows.
    pub fn figure(&self, width: f64, height: f64) -> String {
        format!(
            "<figure>{}</figure>\n<details class=\"nhsuk-details\"><summary class=\"nhsuk-details__summary\">\
             <span class=\"nhsuk-details__summary-text\">The chart's figures as a table</span></summary>\
             <div class=\"nhsuk-details__text\">{}</div></details>",
            self.svg(width, height),
            self.table()
        )
    }

    /// The same data as an HTML table (NHS.UK classes), the chart's text alternative.
    pub fn table(&self) -> String {
        let mut t = format!(
            "<table class=\"nhsuk-table\"><caption class=\"nhsuk-table__caption\">{}</caption><thead class=\"nhsuk-table__head\"><tr class=\"nhsuk-table__row\"><th class=\"nhsuk-table__header\" scope=\"col\"></th>",
            escape(&self.title)
        );
        for name in self.series.iter().chain(self.limit.iter().map(|(n, _)| n)) {
            let _ = write!(t, "<th class=\"nhsuk-table__header nhsuk-table__header--numeric\" scope=\"col\">{}</th>", escape(name));
        }
        t.push_str("</tr></thead><tbody class=\"nhsuk-table__body\">");
        for (i, b) in self.bars.iter().enumerate() {
            let _ = write!(t, "<tr class=\"nhsuk-table__row\"><th class=\"nhsuk-table__header\" scope=\"row\">{}</th>", escape(&b.label));
            let limit = self.limit.as_ref().and_then(|(_, l)| l.get(i));
            for v in b.values.iter().chain(limit) {
                let _ = write!(
                    t,
                    "<td class=\"nhsuk-table__cell nhsuk-table__cell--numeric\">{v:.0}</td>"
                );
            }
            t.push_str("</tr>");
        }
        t.push_str("</tbody></table>");
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart() -> BarChart {
        BarChart {
            title: "Expiries per week".into(),
            series: vec!["expiring".into(), "planned".into()],
            bars: (0..10)
                .map(|i| Bar {
                    label: format!("w{i}"),
                    values: vec![f64::from(i * 10), f64::from(i * 5)],
                })
                .collect(),
            limit: Some(("capacity".into(), vec![40.0; 10])),
        }
    }

    #[test]
    fn svg_has_a_bar_per_value_and_the_limit_line() {
        let svg = chart().svg(600.0, 240.0);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        // 20 bars, 3 key swatches.
        assert_eq!(svg.matches("<rect").count(), 20 + 3);
        assert_eq!(svg.matches("<polyline").count(), 1);
        // The tallest bar reaches the top of the plot (y = 12) and the empty one has no height.
        assert!(svg.contains("y=\"12.0\""), "{svg}");
        assert!(svg.contains("height=\"0.0\""), "{svg}");
        assert!(svg.contains("aria-hidden=\"true\""));
    }

    #[test]
    fn the_table_holds_every_value() {
        let t = chart().table();
        assert!(t.contains("<caption class=\"nhsuk-table__caption\">Expiries per week</caption>"));
        assert_eq!(t.matches("<tr class=\"nhsuk-table__row\">").count(), 11);
        assert!(t.contains(">90</td><td class=\"nhsuk-table__cell nhsuk-table__cell--numeric\">45</td><td class=\"nhsuk-table__cell nhsuk-table__cell--numeric\">40</td>"), "{t}");
    }

    #[test]
    fn labels_are_escaped_and_an_empty_chart_draws() {
        let c = BarChart {
            title: "<x>".into(),
            series: vec!["a&b".into()],
            bars: vec![],
            limit: None,
        };
        assert!(c.svg(100.0, 100.0).contains("a&amp;b"));
        assert!(c.table().contains("&lt;x&gt;"));
    }

    #[test]
    fn the_axis_is_labelled_in_distinct_whole_numbers() {
        let labels = |top: f64| -> Vec<String> {
            let c = BarChart {
                title: "t".into(),
                series: vec!["s".into()],
                bars: vec![Bar {
                    label: "a".into(),
                    values: vec![top],
                }],
                limit: None,
            };
            c.svg(600.0, 240.0)
                .split("text-anchor=\"end\">")
                .skip(1)
                .map(|t| t.split('<').next().unwrap_or_default().to_owned())
                .collect()
        };
        assert_eq!(labels(1.0), ["0", "1", "2", "3"]);
        assert_eq!(labels(0.0), ["0", "1", "2", "3"]);
        assert_eq!(labels(100.0), ["0", "34", "68", "102"]);
    }
}
