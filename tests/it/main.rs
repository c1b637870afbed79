mod actions_data;
mod emulator;
mod support;
