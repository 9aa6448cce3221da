//! Runs one request of the orders domain and prints its spans with OpenTelemetry's stdout
//! exporter; see the library.

use eventsmith_otel_example::{run, tracer_provider};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let provider = tracer_provider(opentelemetry_stdout::SpanExporter::default());
    run(&provider)?;
    provider.shutdown()?;
    Ok(())
}
