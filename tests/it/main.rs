mod actions_net;
mod emulator;
mod support;
