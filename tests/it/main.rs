mod emulator;
mod engine;
mod support;
