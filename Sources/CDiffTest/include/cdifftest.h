// Native side of the differential tester (`emu difftest`): runs a few guest instruction bytes
// directly on the host CPU with a given register/flag/x87/SSE/AVX state and captures the state
// afterwards, or the exception (trap number, error code, fault address and the state at the
// fault) when the bytes fault. Faults are caught with SIGSEGV/SIGILL/SIGFPE/SIGBUS/SIGTRAP
// handlers running on an alternate stack; the handler redirects the faulting context to a
// recovery stub, so no setjmp is needed and the guest may point RSP anywhere.
#ifndef EMU_CDIFFTEST_H
#define EMU_CDIFFTEST_H

#include <stdint.h>
#include <stddef.h>

typedef struct DTNative {
    uint64_t gpr[16];     // RAX RCX RDX RBX RSP RBP RSI RDI R8..R15 (in and out)
    uint64_t rip;         // out: where the bytes stopped (the faulting instruction on a fault)
    uint64_t rflags;      // in and out
    int32_t vector;       // out: exception vector (trap number), -1 when none
    int32_t signo;        // out: signal that reported it
    uint64_t err;         // out: error code the kernel reported
    uint64_t addr;        // out: faulting linear address (CR2) for #PF
    uint64_t xstateSize;  // out: bytes of extended state captured on a fault
    uint64_t pad[2];
    // XSAVE standard-format area: FXSAVE image 0..511, header 512..575, YMM_Hi128 576..831.
    uint8_t xsave[1024];  // 64-byte aligned when the struct is (offset 192)
} DTNative;

_Static_assert(offsetof(DTNative, rflags) == 136, "rflags offset");
_Static_assert(offsetof(DTNative, xsave) == 192, "xsave offset");

/// Installs the signal handlers (once per process) and an alternate signal stack (once per
/// thread). Returns 0 on success.
int dt_setup(void);

/// Reserves `len` bytes at exactly `addr` (PROT_NONE). Returns 0 on success.
int dt_reserve(uint64_t addr, size_t len);
/// mprotect wrapper: prot bits 1 read, 2 write, 4 exec.
int dt_protect(uint64_t addr, size_t len, int prot);

/// Runs the bytes at `code` (which must end with a jump to `dt_exit_address()`) with the state
/// in `st`; writes the final state back. Returns 0 when the bytes ran to the end, 1 on a fault.
int dt_run(DTNative *st, const void *code);
/// Address the generated code jumps to when done.
uint64_t dt_exit_address(void);

/// Host CPUID and XGETBV (0 when OSXSAVE is off).
void dt_cpuid(uint32_t leaf, uint32_t subleaf, uint32_t out[4]);
uint64_t dt_xgetbv0(void);
/// The host's segment selectors ES CS SS DS FS GS (what MOV r/m, Sreg reads).
void dt_selectors(uint16_t out[6]);

static inline uint8_t *dt_xsave_area(DTNative *s) { return s->xsave; }
static inline uint64_t *dt_gprs(DTNative *s) { return s->gpr; }

#endif
