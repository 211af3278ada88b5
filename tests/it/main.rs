//! Integration tests: drive the real `sigflow` binary.
