// SIGBUS guard for read-only file mappings (see coffer_mapping_guard_register in CCofferShims.h).
//
// The handler runs on the faulting thread. It only reads the slot table (atomics), calls mmap
// (a system call) and writes an atomic flag, so it is safe to run at any point of the program.
#define _GNU_SOURCE
#include "CCofferShims.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define COFFER_GUARD_SLOTS 64

typedef struct {
    _Atomic(uintptr_t) start;   // 0 when the slot is free
    _Atomic(size_t) length;
    atomic_int faulted;
} coffer_guard_slot;

static coffer_guard_slot slots[COFFER_GUARD_SLOTS];
static struct sigaction previous_action;
static uintptr_t page_size;
static int install_result = -1;
static pthread_once_t install_once = PTHREAD_ONCE_INIT;

static void coffer_sigbus(int signal_number, siginfo_t *info, void *context) {
    uintptr_t address = (uintptr_t)info->si_addr;
    for (int i = 0; i < COFFER_GUARD_SLOTS; i++) {
        uintptr_t start = atomic_load(&slots[i].start);
        if (start == 0) continue;
        size_t length = atomic_load(&slots[i].length);
        if (address < start || address >= start + length) continue;
        uintptr_t page = address & ~(page_size - 1);
        void *zeros = mmap((void *)page, page_size, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
        if (zeros == MAP_FAILED) break;
        atomic_store(&slots[i].faulted, 1);
        return;  // the access is retried and reads zeros
    }
    // Not a guarded mapping: what would have happened without this handler.
    if (previous_action.sa_flags & SA_SIGINFO) {
        if (previous_action.sa_sigaction != NULL) {
            previous_action.sa_sigaction(signal_number, info, context);
            return;
        }
    } else if (previous_action.sa_handler != SIG_DFL && previous_action.sa_handler != SIG_IGN) {
        previous_action.sa_handler(signal_number);
        return;
    }
    // Default (or ignored, which for a fault would loop forever): restore the default action;
    // the faulting access is retried and the signal ends the process as it would have.
    struct sigaction fallback;
    memset(&fallback, 0, sizeof fallback);
    fallback.sa_handler = SIG_DFL;
    sigemptyset(&fallback.sa_mask);
    sigaction(SIGBUS, &fallback, NULL);
}

static void coffer_guard_install(void) {
    page_size = (uintptr_t)sysconf(_SC_PAGESIZE);
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_sigaction = coffer_sigbus;
    action.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&action.sa_mask);
    install_result = sigaction(SIGBUS, &action, &previous_action);
}

int coffer_mapping_guard_register(const void *start, size_t length) {
    if (start == NULL || length == 0) return -1;
    pthread_once(&install_once, coffer_guard_install);
    if (install_result != 0) return -1;
    for (int i = 0; i < COFFER_GUARD_SLOTS; i++) {
        uintptr_t expected = 0;
        if (atomic_compare_exchange_strong(&slots[i].start, &expected, (uintptr_t)1)) {
            // Claimed: fill in the range, then publish its start.
            atomic_store(&slots[i].faulted, 0);
            atomic_store(&slots[i].length, length);
            atomic_store(&slots[i].start, (uintptr_t)start);
            return i;
        }
    }
    return -1;
}

int coffer_mapping_guard_faulted(int slot) {
    if (slot < 0 || slot >= COFFER_GUARD_SLOTS) return 0;
    return atomic_load(&slots[slot].faulted);
}

void coffer_mapping_guard_unregister(int slot) {
    if (slot < 0 || slot >= COFFER_GUARD_SLOTS) return;
    atomic_store(&slots[slot].length, 0);
    atomic_store(&slots[slot].start, 0);
}
