//! The `algocenter` binary as a library: command line, configuration, server wiring and client commands, so that
//! tests can run the same server in-process or in a child process.

pub mod cli;
pub mod client;
pub mod config;
pub mod data;
pub mod demo;
pub mod export;
pub mod functions;
pub mod generate;
pub mod keys;
pub mod predict;
pub mod push;
pub mod retry;
pub mod serve;
