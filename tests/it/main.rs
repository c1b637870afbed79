mod actions_data;
mod actions_net;
mod emulator;
mod evidence;
mod report;
mod reports;
mod support;
