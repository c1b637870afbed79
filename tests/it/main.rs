mod emulator;
mod evidence;
mod support;
