//! Importing Cedar's own test suites (the example-use-cases folder layout, the
//! Cedar CLI's `run-tests` JSON, the Cedar integration-test JSON) as scenarios.
