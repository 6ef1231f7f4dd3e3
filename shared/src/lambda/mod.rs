//! What only a Lambda function needs: start-up ([`runtime`]: logging, configuration and clients,
//! once per container, then the runtime loop), the AWS SDK configuration ([`aws`]), structured
//! logs ([`telemetry`]) and metrics ([`metrics`]). The top layer: nothing below imports it.

pub mod aws;
pub mod metrics;
pub mod runtime;
pub mod telemetry;
