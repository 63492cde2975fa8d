// Makes the libev runtime the default shell of Maestro members, before main runs.
//
// MaestroCore (the toolkit) imports only the engine and cannot name the libev runtime; the
// `Maestro` module, which links both, defines `maestro_install_libev_shell` (a Swift function
// that sets `DefaultShell.make`). Swift has no load-time initialisers, so this constructor
// calls it; the object file is linked into every program that depends on `Maestro`.
#include "CMaestroStartup.h"

extern void maestro_install_libev_shell(void);

__attribute__((constructor)) static void maestro_startup(void) {
    maestro_install_libev_shell();
}
