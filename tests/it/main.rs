mod actions_data;
mod actions_net;
mod emulator;
mod evidence;
mod plan;
mod report;
mod support;
