/* Stop signals (see shardml/signals.h). */
#include "shardml/signals.h"
#include "base/fault.h"

#include <signal.h>
#include <string.h>

/* Process-wide, like the MPI context: set from a signal handler only. */
static volatile sig_atomic_t pending_signal = 0;

static void on_signal(int sig) { pending_signal = sig; }

static void stop_signals(sigset_t *set) {
  sigemptyset(set);
  sigaddset(set, SIGTERM);
  sigaddset(set, SIGUSR1);
}

void sml_signals_install(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGUSR1, &sa, NULL);
  /* Held across a re-exec (sml_signals_hold): what arrived meanwhile is
   * delivered now, to the handler. */
  sigset_t set;
  stop_signals(&set);
  sigprocmask(SIG_UNBLOCK, &set, NULL);
  /* Fault injection for the tests: a signal at the first instruction. */
  if (sml_fault_injected("signal-at-start")) raise(SIGUSR1);
}

void sml_signals_hold(void) {
  sigset_t set;
  stop_signals(&set);
  sigprocmask(SIG_BLOCK, &set, NULL);
}

int sml_signal_pending(void) { return pending_signal; }
