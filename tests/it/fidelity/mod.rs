//! The emulator's fidelity suite: one test per behaviour that recovery depends on, each
//! against the emulator over HTTP through the AWS SDK for Rust, each citing the AWS page that
//! says how AWS behaves (localstack/README.md lists them). Where LocalStack serves the service
//! and shares the behaviour, the same check also runs against LocalStack.

mod arc;
mod dns;
mod dynamodb;
mod ecs;
mod faults;
mod fis;
mod iam;
mod rds;
mod route53;
mod s3;
mod timings;
