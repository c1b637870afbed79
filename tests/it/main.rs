mod actions_data;
mod actions_net;
mod emulator;
mod engine;
mod evidence;
mod plan;
mod report;
mod support;
