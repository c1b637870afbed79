mod actions_data;
mod actions_net;
mod emulator;
mod engine;
mod evidence;
mod report;
mod support;
