//! What only a Lambda function needs: start-up ([`runtime`]: logging, configuration and clients,
//! once per container, then the runtime loop), the AWS SDK configuration ([`aws`]), the stream
//! batch of the `online-events` function ([`stream`]), structured
//! logs ([`telemetry`]) and metrics ([`metrics`]). The top layer: nothing below imports it.

pub mod aws;
pub mod metrics;
pub mod runtime;
pub mod stream;
pub mod telemetry;
