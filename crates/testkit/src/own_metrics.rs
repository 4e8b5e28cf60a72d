//! The series a test's own thread records, kept apart from the process's recorder that parallel
//! tests share, so that a test can count exactly what it caused.

use std::time::{Duration, Instant};

/// A service spawned after [`OwnMetrics::start`] on the test's current-thread runtime records
/// here: its tasks run on the test's thread.
pub struct OwnMetrics {
    handle: metrics_exporter_prometheus::PrometheusHandle,
    _guard: metrics::LocalRecorderGuard<'static>,
}

impl OwnMetrics {
    /// Call before starting the service: its series are registered as it builds.
    pub fn start() -> Self {
        // Leaked: the guard borrows the recorder for 'static, and a test lives that long anyway.
        let recorder: &'static _ =
            Box::leak(Box::new(metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder()));
        Self { handle: recorder.handle(), _guard: metrics::set_default_local_recorder(recorder) }
    }

    /// The value of `series` (name and labels as rendered), if it was recorded.
    pub fn value(&self, series: &str) -> Option<f64> {
        let prefix = format!("{series} ");
        self.handle.render().lines().find_map(|line| line.strip_prefix(&prefix)?.parse().ok())
    }

    /// Every sample of the family `name`, as (labels, value).
    pub fn samples(&self, name: &str) -> Vec<(String, f64)> {
        let prefix = format!("{name}{{");
        self.handle
            .render()
            .lines()
            .filter_map(|line| {
                let (series, value) = line.strip_prefix(&prefix)?.rsplit_once(' ')?;
                Some((series.trim_end_matches('}').to_owned(), value.parse().ok()?))
            })
            .collect()
    }

    /// Waits until `series` has a value that `wanted` accepts; fails after 30 s.
    pub async fn becomes(&self, series: &str, wanted: impl Fn(f64) -> bool) -> f64 {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let value = self.value(series);
            if let Some(value) = value.filter(|v| wanted(*v)) {
                return value;
            }
            assert!(Instant::now() < deadline, "{series} is still {value:?} after 30 s");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
