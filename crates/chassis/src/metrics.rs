//! Prometheus metrics: one process-wide recorder. Every recorded series carries a `service` label,
//! and each service's `/metrics` serves only its own series, so that a Prometheus scraping every
//! port of an embedded process counts each series once, as it would scraping one process per
//! service. The `process_*` series describe the process: they are served by the first service the
//! process started (the only one, distributed; the gateway, embedded), never by two ports.

use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

pub const HTTP_DURATION: &str = "http_server_request_duration_seconds";
pub const BUILD_INFO: &str = "flotilla_build_info";
/// 1 while the service's readiness checks pass, 0 otherwise.
pub const SERVICE_READY: &str = "flotilla_service_ready";
/// A circuit breaker's state (see [`crate::breaker::State::level`]), by dependency.
pub const CIRCUIT_BREAKER_STATE: &str = "flotilla_circuit_breaker_state";
/// Calls to a dependency sent again after a failure, by dependency.
pub const RETRIES: &str = "flotilla_retries_total";
/// The time a saga spends in each of its steps, whichever service runs the saga.
pub const SAGA_STEP_DURATION: &str = "flotilla_saga_step_duration_seconds";

// OpenTelemetry's recommended HTTP buckets, with two finer ones for sub-5 ms services.
const DURATION_BUCKETS: &[f64] =
    &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0];
// A saga step waits on other services and their timeouts (tens of seconds), and a confirmed order
// on a carrier: the HTTP buckets would put every slow step in +Inf.
const STEP_BUCKETS: &[f64] =
    &[0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 14400.0, 86400.0];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
/// The service whose `/metrics` reports the process's resource usage.
static PROCESS_REPORTER: OnceLock<&'static str> = OnceLock::new();

/// The process-wide handle, installing the recorder on first use.
pub fn handle() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        // Saga steps get buckets of their own (the exporter consults a `Full` matcher before any
        // `Suffix` one); every other `*_duration_seconds` histogram (HTTP server and client,
        // message processing) shares the HTTP buckets. The lists are non-empty constants, so
        // this cannot fail; fall back to summaries if it did.
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Full(SAGA_STEP_DURATION.into()), STEP_BUCKETS)
            .and_then(|builder| {
                builder.set_buckets_for_metric(Matcher::Suffix("_duration_seconds".into()), DURATION_BUCKETS)
            })
            .unwrap_or_else(|_| PrometheusBuilder::new());
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("a metrics recorder was already installed; /metrics will be incomplete");
        }
        describe();
        handle
    })
}

fn describe() {
    metrics::describe_histogram!(
        HTTP_DURATION,
        metrics::Unit::Seconds,
        "Duration of HTTP requests served, by method, route template and status; its _count is the request count."
    );
    metrics::describe_gauge!(BUILD_INFO, "Always 1; labels say which build of which service runs.");
    metrics::describe_gauge!(
        SERVICE_READY,
        "1 while the service's readiness checks pass, 0 otherwise; evaluated at every scrape and /readyz."
    );
    metrics::describe_gauge!(
        CIRCUIT_BREAKER_STATE,
        "The circuit breaker in front of each dependency: 0 closed, 1 half-open, 2 open."
    );
    metrics::describe_counter!(RETRIES, "Calls to a dependency sent again after a failed attempt, by dependency.");
    metrics::describe_histogram!(
        SAGA_STEP_DURATION,
        metrics::Unit::Seconds,
        "Time a saga spent in a step, from entering it to leaving it, by step."
    );
}

/// Keeps histogram memory bounded between scrapes; runs until the process ends.
pub fn spawn_upkeep() {
    static STARTED: OnceLock<()> = OnceLock::new();
    STARTED.get_or_init(|| {
        let handle = handle();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(5));
            loop {
                tick.tick().await;
                handle.run_upkeep();
            }
        });
    });
}

pub fn record_build_info(service: &'static str, version: &'static str) {
    handle();
    PROCESS_REPORTER.get_or_init(|| service);
    metrics::gauge!(BUILD_INFO, "service" => service, "version" => version, "commit" => crate::build_info::GIT_COMMIT)
        .set(1.0);
}

/// Records whether `service` passed its readiness checks just now.
pub fn record_ready(service: &'static str, ready: bool) {
    metrics::gauge!(SERVICE_READY, "service" => service).set(if ready { 1.0 } else { 0.0 });
}

/// Counts one call to `dependency` sent again after a failed attempt.
pub fn record_retry(service: &'static str, dependency: &str) {
    metrics::counter!(RETRIES, "service" => service, "dependency" => dependency.to_owned()).increment(1);
}

/// What `service`'s `/metrics` serves: its own series, then the process's resource usage if it
/// is the service that reports them.
pub fn render_for(service: &str) -> String {
    let mut text = own_series(&handle().render(), service);
    if PROCESS_REPORTER.get().is_some_and(|reporter| *reporter == service) {
        process::append(&mut text);
    }
    text
}

/// The families of `exposition` that have samples labelled `service="<service>"`, with their
/// HELP and TYPE lines and only those samples.
fn own_series(exposition: &str, service: &str) -> String {
    let first = format!("{{service=\"{service}\"");
    let later = format!(",service=\"{service}\"");
    let mut out = String::with_capacity(exposition.len() / 2);
    let mut header = String::new();
    let mut samples = String::new();
    let flush = |header: &mut String, samples: &mut String, out: &mut String| {
        if !samples.is_empty() {
            out.push_str(header);
            out.push_str(samples);
            out.push('\n');
        }
        header.clear();
        samples.clear();
    };
    for line in exposition.lines() {
        if line.starts_with('#') {
            // A HELP after samples opens the next family.
            if !samples.is_empty() || (line.starts_with("# HELP") && header.contains("# TYPE")) {
                flush(&mut header, &mut samples, &mut out);
            }
            header.push_str(line);
            header.push('\n');
        } else if line.is_empty() {
            flush(&mut header, &mut samples, &mut out);
        } else if line.contains(&first) || line.contains(&later) {
            samples.push_str(line);
            samples.push('\n');
        }
    }
    flush(&mut header, &mut samples, &mut out);
    out
}

/// Standard `process_*` metrics, read from /proc (Linux only; elsewhere they are omitted).
mod process {
    use std::fmt::Write;

    // USER_HZ is fixed at 100 by the Linux ABI, whatever the kernel's internal tick rate.
    const TICKS_PER_SECOND: f64 = 100.0;

    pub(super) fn append(out: &mut String) {
        let Some(sample) = read() else { return };
        let mut metric = |name: &str, kind: &str, help: &str, value: f64| {
            let _ = write!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n");
        };
        metric(
            "process_cpu_seconds_total",
            "counter",
            "Total user and system CPU time spent in seconds.",
            sample.cpu_seconds,
        );
        metric("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", sample.resident_bytes);
        metric("process_open_fds", "gauge", "Number of open file descriptors.", sample.open_fds);
        if let Some(max) = sample.max_fds {
            metric("process_max_fds", "gauge", "Maximum number of open file descriptors.", max);
        }
        if let Some(start) = sample.start_time_seconds {
            metric(
                "process_start_time_seconds",
                "gauge",
                "Start time of the process since unix epoch in seconds.",
                start,
            );
        }
    }

    struct Sample {
        cpu_seconds: f64,
        resident_bytes: f64,
        open_fds: f64,
        max_fds: Option<f64>,
        start_time_seconds: Option<f64>,
    }

    fn read() -> Option<Sample> {
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        // Fields after the parenthesised command name, which may itself contain spaces.
        let fields: Vec<&str> = stat.get(stat.rfind(')')? + 2..)?.split_whitespace().collect();
        let field = |n: usize| fields.get(n - 3).and_then(|v| v.parse::<f64>().ok());
        let cpu_seconds = (field(14)? + field(15)?) / TICKS_PER_SECOND;
        let start_ticks = field(22)?;

        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        let rss_kib = status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|v| v.parse::<f64>().ok())?;

        let open_fds = std::fs::read_dir("/proc/self/fd").ok()?.count() as f64;
        let max_fds = std::fs::read_to_string("/proc/self/limits").ok().and_then(|limits| {
            limits
                .lines()
                .find(|line| line.starts_with("Max open files"))
                .and_then(|line| line.split_whitespace().nth(3))
                .and_then(|v| v.parse::<f64>().ok())
        });
        let boot_time = std::fs::read_to_string("/proc/stat").ok().and_then(|stat| {
            stat.lines().find_map(|line| line.strip_prefix("btime ")).and_then(|v| v.trim().parse::<f64>().ok())
        });
        Some(Sample {
            cpu_seconds,
            resident_bytes: rss_kib * 1024.0,
            open_fds,
            max_fds,
            start_time_seconds: boot_time.map(|boot| boot + start_ticks / TICKS_PER_SECOND),
        })
    }

    #[cfg(all(test, target_os = "linux"))]
    mod tests {
        #[test]
        fn reads_this_process() {
            let mut out = String::new();
            super::append(&mut out);
            assert!(out.contains("# TYPE process_cpu_seconds_total counter"), "{out}");
            let rss_line = out.lines().find(|l| l.starts_with("process_resident_memory_bytes ")).unwrap();
            let rss: f64 = rss_line.split(' ').nth(1).unwrap().parse().unwrap();
            assert!(rss > 1024.0 * 1024.0, "{rss}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{SAGA_STEP_DURATION, handle, own_series, render_for};

    #[test]
    fn durations_get_the_http_buckets_and_saga_steps_longer_ones() {
        handle();
        let service = "bucket-probe";
        metrics::histogram!(SAGA_STEP_DURATION, "service" => service, "step" => "reserving").record(20.0);
        metrics::histogram!("messaging_process_duration_seconds", "service" => service).record(0.002);
        let text = render_for(service);
        let buckets = |name: &str| -> Vec<String> {
            let prefix = format!("{name}_bucket{{");
            text.lines()
                .filter(|line| line.starts_with(&prefix))
                .filter_map(|line| Some(line.split("le=\"").nth(1)?.split('"').next()?.to_owned()))
                .collect()
        };
        let steps = buckets(SAGA_STEP_DURATION);
        assert!(steps.contains(&"30".to_owned()) && steps.contains(&"86400".to_owned()), "{steps:?}");
        let process = buckets("messaging_process_duration_seconds");
        assert!(process.contains(&"0.001".to_owned()) && process.contains(&"10".to_owned()), "{process:?}");
        assert!(!process.contains(&"30".to_owned()), "{process:?}");
    }

    #[test]
    fn a_service_gets_only_its_own_families_and_samples() {
        let exposition = "# HELP a_total A.\n# TYPE a_total counter\na_total{service=\"catalog\"} 1\n\
            a_total{service=\"gateway\"} 2\n\n# HELP b Only the gateway's.\n# TYPE b gauge\n\
            b{upstream=\"x\",service=\"gateway\"} 1\n\n# TYPE c gauge\nc{service=\"catalogue\"} 3\n";
        assert_eq!(
            own_series(exposition, "catalog"),
            "# HELP a_total A.\n# TYPE a_total counter\na_total{service=\"catalog\"} 1\n\n"
        );
        let gateway = own_series(exposition, "gateway");
        assert!(
            gateway.contains("a_total{service=\"gateway\"} 2")
                && gateway.contains("b{upstream=\"x\",service=\"gateway\"} 1")
        );
        assert!(!gateway.contains("catalog"));
        assert_eq!(own_series(exposition, "catalogue"), "# TYPE c gauge\nc{service=\"catalogue\"} 3\n\n");
    }
}
