//! Prometheus text exposition, hand-rolled: a few counters and histograms do
//! not justify a metrics framework.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

const BUCKETS: [f64; 12] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// Request figures by (method, route, status).
#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, String, u16), Histogram>>,
    /// Figures read from the database, and when: a scrape reads them at
    /// most once per [`COUNTS_TTL`], however often it comes.
    counts: Mutex<Option<(std::time::Instant, DbCounts)>>,
}

/// What `/metrics` reads from the database.
#[derive(Debug, Clone, Copy, Default)]
pub struct DbCounts {
    pub jobs_pending: f64,
    pub jobs_dead: f64,
    pub cases_open: f64,
}

/// How long database figures are served from memory.
pub const COUNTS_TTL: Duration = Duration::from_secs(10);

impl Metrics {
    /// The cached database figures, if fresh.
    pub fn cached_counts(&self) -> Option<DbCounts> {
        let counts = self.counts.lock().ok()?;
        counts.filter(|(at, _)| at.elapsed() < COUNTS_TTL).map(|(_, c)| c)
    }

    pub fn remember_counts(&self, counts: DbCounts) {
        if let Ok(mut cached) = self.counts.lock() {
            *cached = Some((std::time::Instant::now(), counts));
        }
    }

    pub fn observe_request(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        let secs = elapsed.as_secs_f64();
        let Ok(mut requests) = self.requests.lock() else { return };
        let histogram = requests.entry((method.to_owned(), route.to_owned(), status)).or_default();
        for (i, bound) in BUCKETS.iter().enumerate() {
            if secs <= *bound {
                histogram.counts[i] += 1;
            }
        }
        histogram.count += 1;
        histogram.sum += secs;
    }

    /// Renders the request figures plus the counters and gauges passed in
    /// (name, help, value).
    pub fn render(&self, counters: &[(&str, &str, f64)], gauges: &[(&str, &str, f64)]) -> String {
        let mut out = String::new();
        out.push_str("# HELP ventanilla_http_requests_total HTTP requests served.\n");
        out.push_str("# TYPE ventanilla_http_requests_total counter\n");
        let requests = match self.requests.lock() {
            Ok(r) => r,
            Err(poisoned) => poisoned.into_inner(),
        };
        for ((method, route, status), h) in requests.iter() {
            let _ = writeln!(
                out,
                "ventanilla_http_requests_total{{method=\"{method}\",route=\"{}\",status=\"{status}\"}} {}",
                escape(route),
                h.count
            );
        }
        out.push_str("# HELP ventanilla_http_request_duration_seconds Time to serve HTTP requests.\n");
        out.push_str("# TYPE ventanilla_http_request_duration_seconds histogram\n");
        for ((method, route, status), h) in requests.iter() {
            let labels = format!("method=\"{method}\",route=\"{}\",status=\"{status}\"", escape(route));
            for (i, bound) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "ventanilla_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {}",
                    h.counts[i]
                );
            }
            let _ =
                writeln!(out, "ventanilla_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}", h.count);
            let _ = writeln!(out, "ventanilla_http_request_duration_seconds_sum{{{labels}}} {}", h.sum);
            let _ = writeln!(out, "ventanilla_http_request_duration_seconds_count{{{labels}}} {}", h.count);
        }
        for (kind, figures) in [("counter", counters), ("gauge", gauges)] {
            for (name, help, value) in figures {
                let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}");
            }
        }
        out
    }
}

fn escape(label: &str) -> String {
    label.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative() {
        let metrics = Metrics::default();
        metrics.observe_request("GET", "/api/v1/cases", 200, Duration::from_millis(3));
        metrics.observe_request("GET", "/api/v1/cases", 200, Duration::from_millis(300));
        let text = metrics.render(
            &[("ventanilla_webhooks_grouped_total", "Grouped.", 5.0)],
            &[("ventanilla_jobs_pending", "Jobs waiting.", 2.0)],
        );
        assert!(
            text.contains("ventanilla_http_requests_total{method=\"GET\",route=\"/api/v1/cases\",status=\"200\"} 2")
        );
        assert!(text.contains("le=\"0.005\"} 1"));
        assert!(text.contains("le=\"0.5\"} 2"));
        assert!(text.contains("# TYPE ventanilla_jobs_pending gauge\nventanilla_jobs_pending 2"));
        assert!(text.contains("# TYPE ventanilla_webhooks_grouped_total counter\nventanilla_webhooks_grouped_total 5"));
    }
}
