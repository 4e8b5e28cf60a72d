//! A service's tracer as the configuration asks: sampled parent-first, kept in the process's
//! buffer of recent spans, exported over OTLP/HTTP with protobuf, or any of these together.

use bytes::Bytes;
use opentelemetry::KeyValue;
use opentelemetry_http::{HttpClient, HttpError, Request, Response};
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{BatchConfigBuilder, BatchSpanProcessor, Sampler, SdkTracerProvider};

use super::recent;
use super::spans::Tracer;
use crate::config::TraceSettings;

#[derive(Debug, thiserror::Error)]
pub enum ExportSetupError {
    #[error("cannot set up the OTLP span exporter: {0}")]
    Exporter(#[from] opentelemetry_otlp::ExporterBuildError),
    #[error("cannot build the HTTP client for span export: {0}")]
    Client(#[from] reqwest::Error),
    #[error("span export needs a Tokio runtime to send from")]
    NoRuntime,
}

/// The tracer for `service`: off unless spans are exported or kept for `/admin/traces`.
pub fn tracer(
    service: &'static str,
    version: &'static str,
    settings: &TraceSettings,
) -> Result<Tracer, ExportSetupError> {
    if !settings.exporting() && settings.keep_recent_spans == 0 {
        return Ok(Tracer::off());
    }
    // The builder's detectors read OTEL_RESOURCE_ATTRIBUTES, so a deployment can add its own
    // (pod, node, zone); the service's name and version are ours to say.
    let resource = Resource::builder()
        .with_service_name(service)
        .with_attributes([KeyValue::new("service.version", version), KeyValue::new("service.namespace", "flotilla")])
        .build();
    let sampler = Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(settings.sample_ratio)));
    let mut provider = SdkTracerProvider::builder().with_resource(resource).with_sampler(sampler);
    if settings.keep_recent_spans > 0 {
        provider = provider.with_span_processor(recent::Keep::new(service, settings.keep_recent_spans));
    }
    if settings.exporting() {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| ExportSetupError::NoRuntime)?;
        let client = OnRuntime { client: crate::outbound::client(settings.export_timeout())?, runtime };
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(settings.otlp_endpoint.trim())
            .with_timeout(settings.export_timeout())
            .with_http_client(client)
            .build()?;
        let batching = BatchConfigBuilder::default()
            .with_max_queue_size(settings.export_queue)
            .with_max_export_batch_size(settings.export_batch)
            .with_scheduled_delay(settings.export_interval())
            .build();
        provider =
            provider.with_span_processor(BatchSpanProcessor::builder(exporter).with_batch_config(batching).build());
    }
    Ok(Tracer::new(provider.build()))
}

/// Our reqwest client, driven by the service's runtime. The SDK's batching thread awaits exports
/// outside any runtime, where reqwest cannot connect; the call runs on the runtime instead and
/// the thread only waits for its result. One HTTP client stack in the tree, no blocking client.
#[derive(Debug)]
struct OnRuntime {
    client: reqwest::Client,
    runtime: tokio::runtime::Handle,
}

#[async_trait::async_trait]
impl HttpClient for OnRuntime {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let client = self.client.clone();
        let call = async move {
            let request = reqwest::Request::try_from(request)?;
            let response = client.execute(request).await?;
            let mut answer = Response::builder().status(response.status());
            if let Some(headers) = answer.headers_mut() {
                *headers = response.headers().clone();
            }
            let body = response.bytes().await?;
            Ok::<_, HttpError>(answer.body(body)?)
        };
        self.runtime.spawn(call).await?
    }
}
