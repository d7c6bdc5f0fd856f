// Thin C shim over linux/kvm.h for the KVM accelerator (Sources/Machine/KVM.swift).
//
// Swift cannot call the variadic ioctl(2), cannot import the _IOR/_IOW request macros and sees
// kvm_run's anonymous union only through generated names, so this header gives:
//   - two typed ioctl entry points returning the result or -errno (never reading errno later);
//   - the ioctl request numbers as typed constants (CKVM_REQ_*);
//   - accessors for the kvm_run exit union and the fixed arrays of kvm_fpu / kvm_lapic_state /
//     kvm_xsave, and allocators for the flexible-array structs kvm_cpuid2 / kvm_msrs;
//   - the vCPU kick: a signal whose handler sets kvm_run.immediate_exit of the thread's vCPU,
//     and a POSIX timer that sends it to one thread (the wall-clock bound of a run).
// No policy lives here: every decision is made in Swift.
#ifndef CKVM_H
#define CKVM_H

#include <linux/kvm.h>
#include <stdint.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <time.h>
#include <sys/ioctl.h>

// ---- ioctl ------------------------------------------------------------------------------------

/// ioctl with a pointer argument: the result (>= 0) or -errno.
static inline int ckvm_ioctl_ptr(int fd, unsigned long req, void *arg) {
    int r = ioctl(fd, req, arg);
    return r < 0 ? -errno : r;
}

/// ioctl with an integer argument: the result (>= 0) or -errno.
static inline int ckvm_ioctl_int(int fd, unsigned long req, unsigned long arg) {
    int r = ioctl(fd, req, arg);
    return r < 0 ? -errno : r;
}

// ---- request numbers ---------------------------------------------------------------------------

static const unsigned long CKVM_REQ_GET_API_VERSION = KVM_GET_API_VERSION;
static const unsigned long CKVM_REQ_CREATE_VM = KVM_CREATE_VM;
static const unsigned long CKVM_REQ_CHECK_EXTENSION = KVM_CHECK_EXTENSION;
static const unsigned long CKVM_REQ_GET_VCPU_MMAP_SIZE = KVM_GET_VCPU_MMAP_SIZE;
static const unsigned long CKVM_REQ_GET_SUPPORTED_CPUID = KVM_GET_SUPPORTED_CPUID;
static const unsigned long CKVM_REQ_GET_MSR_INDEX_LIST = KVM_GET_MSR_INDEX_LIST;
static const unsigned long CKVM_REQ_SET_USER_MEMORY_REGION = KVM_SET_USER_MEMORY_REGION;
static const unsigned long CKVM_REQ_SET_TSS_ADDR = KVM_SET_TSS_ADDR;
static const unsigned long CKVM_REQ_SET_IDENTITY_MAP_ADDR = KVM_SET_IDENTITY_MAP_ADDR;
static const unsigned long CKVM_REQ_CREATE_IRQCHIP = KVM_CREATE_IRQCHIP;
static const unsigned long CKVM_REQ_IRQ_LINE = KVM_IRQ_LINE;
static const unsigned long CKVM_REQ_CREATE_VCPU = KVM_CREATE_VCPU;
static const unsigned long CKVM_REQ_RUN = KVM_RUN;
static const unsigned long CKVM_REQ_GET_REGS = KVM_GET_REGS;
static const unsigned long CKVM_REQ_SET_REGS = KVM_SET_REGS;
static const unsigned long CKVM_REQ_GET_SREGS = KVM_GET_SREGS;
static const unsigned long CKVM_REQ_SET_SREGS = KVM_SET_SREGS;
static const unsigned long CKVM_REQ_GET_FPU = KVM_GET_FPU;
static const unsigned long CKVM_REQ_SET_FPU = KVM_SET_FPU;
static const unsigned long CKVM_REQ_GET_MSRS = KVM_GET_MSRS;
static const unsigned long CKVM_REQ_SET_MSRS = KVM_SET_MSRS;
static const unsigned long CKVM_REQ_SET_CPUID2 = KVM_SET_CPUID2;
static const unsigned long CKVM_REQ_GET_LAPIC = KVM_GET_LAPIC;
static const unsigned long CKVM_REQ_SET_LAPIC = KVM_SET_LAPIC;
static const unsigned long CKVM_REQ_INTERRUPT = KVM_INTERRUPT;
static const unsigned long CKVM_REQ_NMI = KVM_NMI;
static const unsigned long CKVM_REQ_GET_VCPU_EVENTS = KVM_GET_VCPU_EVENTS;
static const unsigned long CKVM_REQ_SET_VCPU_EVENTS = KVM_SET_VCPU_EVENTS;
static const unsigned long CKVM_REQ_GET_MP_STATE = KVM_GET_MP_STATE;
static const unsigned long CKVM_REQ_SET_MP_STATE = KVM_SET_MP_STATE;
static const unsigned long CKVM_REQ_GET_XCRS = KVM_GET_XCRS;
static const unsigned long CKVM_REQ_SET_XCRS = KVM_SET_XCRS;
static const unsigned long CKVM_REQ_GET_DEBUGREGS = KVM_GET_DEBUGREGS;
static const unsigned long CKVM_REQ_SET_DEBUGREGS = KVM_SET_DEBUGREGS;
static const unsigned long CKVM_REQ_TRANSLATE = KVM_TRANSLATE;

// Constants Swift would import with the wrong type (or not at all).
static const uint32_t CKVM_MEM_READONLY = KVM_MEM_READONLY;
static const uint32_t CKVM_CPUID_FLAG_SIGNIFCANT_INDEX = KVM_CPUID_FLAG_SIGNIFCANT_INDEX;
static const uint32_t CKVM_VCPUEVENT_VALID_NMI_PENDING = KVM_VCPUEVENT_VALID_NMI_PENDING;
static const uint32_t CKVM_VCPUEVENT_VALID_SHADOW = KVM_VCPUEVENT_VALID_SHADOW;
static const uint64_t CKVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES =
    KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES;

// ---- kvm_run exit union -------------------------------------------------------------------------

static inline uint8_t  ckvm_io_direction(const struct kvm_run *r) { return r->io.direction; }
static inline uint8_t  ckvm_io_size(const struct kvm_run *r) { return r->io.size; }
static inline uint16_t ckvm_io_port(const struct kvm_run *r) { return r->io.port; }
static inline uint32_t ckvm_io_count(const struct kvm_run *r) { return r->io.count; }
static inline uint64_t ckvm_io_data_offset(const struct kvm_run *r) { return r->io.data_offset; }

static inline uint64_t ckvm_mmio_phys_addr(const struct kvm_run *r) { return r->mmio.phys_addr; }
static inline uint32_t ckvm_mmio_len(const struct kvm_run *r) { return r->mmio.len; }
static inline uint8_t  ckvm_mmio_is_write(const struct kvm_run *r) { return r->mmio.is_write; }
static inline uint8_t *ckvm_mmio_data(struct kvm_run *r) { return r->mmio.data; }

static inline uint64_t ckvm_fail_entry_reason(const struct kvm_run *r) {
    return r->fail_entry.hardware_entry_failure_reason;
}
static inline uint32_t ckvm_fail_entry_cpu(const struct kvm_run *r) { return r->fail_entry.cpu; }
static inline uint64_t ckvm_unknown_hw_reason(const struct kvm_run *r) { return r->hw.hardware_exit_reason; }
static inline uint32_t ckvm_exception_nr(const struct kvm_run *r) { return r->ex.exception; }
static inline uint32_t ckvm_exception_error_code(const struct kvm_run *r) { return r->ex.error_code; }

static inline uint32_t ckvm_internal_suberror(const struct kvm_run *r) { return r->internal.suberror; }
static inline uint32_t ckvm_internal_ndata(const struct kvm_run *r) { return r->internal.ndata; }
static inline uint64_t ckvm_internal_data(const struct kvm_run *r, uint32_t i) {
    return i < 16 ? r->internal.data[i] : 0;
}
static inline uint64_t ckvm_emulation_flags(const struct kvm_run *r) { return r->emulation_failure.flags; }
static inline uint8_t  ckvm_emulation_insn_size(const struct kvm_run *r) {
    return r->emulation_failure.insn_size;
}
static inline const uint8_t *ckvm_emulation_insn_bytes(const struct kvm_run *r) {
    return r->emulation_failure.insn_bytes;
}

static inline uint32_t ckvm_system_event_type(const struct kvm_run *r) { return r->system_event.type; }
static inline uint32_t ckvm_system_event_ndata(const struct kvm_run *r) { return r->system_event.ndata; }
static inline uint64_t ckvm_system_event_data(const struct kvm_run *r, uint32_t i) {
    return i < 16 ? r->system_event.data[i] : 0;
}

// ---- fixed arrays --------------------------------------------------------------------------------

static inline uint8_t *ckvm_fpu_fpr(struct kvm_fpu *f) { return &f->fpr[0][0]; }
static inline uint8_t *ckvm_fpu_xmm(struct kvm_fpu *f) { return &f->xmm[0][0]; }
static inline char *ckvm_lapic_regs(struct kvm_lapic_state *l) { return l->regs; }
static inline uint64_t *ckvm_debugregs_db(struct kvm_debugregs *d) { return d->db; }
static inline uint64_t *ckvm_sregs_interrupt_bitmap(struct kvm_sregs *s) { return s->interrupt_bitmap; }

static inline void ckvm_irq_level_set(struct kvm_irq_level *l, uint32_t irq, uint32_t level) {
    memset(l, 0, sizeof *l);
    l->irq = irq;
    l->level = level;
}

// ---- flexible-array structs ----------------------------------------------------------------------

/// A zeroed kvm_cpuid2 with room for `n` entries (nent = n). Free with ckvm_free.
static inline struct kvm_cpuid2 *ckvm_cpuid2_alloc(uint32_t n) {
    struct kvm_cpuid2 *c = calloc(1, sizeof *c + (size_t)n * sizeof(struct kvm_cpuid_entry2));
    if (c) c->nent = n;
    return c;
}
static inline struct kvm_cpuid_entry2 *ckvm_cpuid2_entries(struct kvm_cpuid2 *c) { return c->entries; }

/// A zeroed kvm_msrs with room for `n` entries (nmsrs = n). Free with ckvm_free.
static inline struct kvm_msrs *ckvm_msrs_alloc(uint32_t n) {
    struct kvm_msrs *m = calloc(1, sizeof *m + (size_t)n * sizeof(struct kvm_msr_entry));
    if (m) m->nmsrs = n;
    return m;
}
static inline struct kvm_msr_entry *ckvm_msrs_entries(struct kvm_msrs *m) { return m->entries; }

/// A zeroed kvm_msr_list with room for `n` indices (nmsrs = n). Free with ckvm_free.
static inline struct kvm_msr_list *ckvm_msr_list_alloc(uint32_t n) {
    struct kvm_msr_list *l = calloc(1, sizeof *l + (size_t)n * sizeof(uint32_t));
    if (l) l->nmsrs = n;
    return l;
}
static inline uint32_t *ckvm_msr_list_indices(struct kvm_msr_list *l) { return l->indices; }

static inline void ckvm_free(void *p) { free(p); }

// ---- vCPU kick (ckvm.c) ----------------------------------------------------------------------------

/// The signal used to kick vCPU threads out of KVM_RUN (a real-time signal).
int ckvm_kick_signal(void);
/// Installs the kick handler once per process (no SA_RESTART, so KVM_RUN returns -EINTR).
/// Returns 0 or -errno.
int ckvm_kick_install(void);
/// Registers the kvm_run of the vCPU the calling thread runs (NULL to unregister): the handler
/// sets its immediate_exit, so a kick that lands outside KVM_RUN is not lost.
void ckvm_thread_set_run(struct kvm_run *run);
/// The calling thread's id (for ckvm_kick_thread).
int ckvm_gettid(void);
/// Sends the kick signal to one thread of this process. Returns 0 or -errno.
int ckvm_kick_thread(int tid);

/// A one-shot CLOCK_MONOTONIC timer that sends the kick signal to the calling thread.
/// Returns 0 or -errno; *out receives the timer.
/// Creates a POSIX timer that sends the kick signal to the calling thread. The handle is an
/// integer (timer ids start at 0, which Swift would import as a nil timer_t).
int ckvm_timer_create(int64_t *out);
/// Arms (ns > 0) or disarms (ns == 0) the timer. Returns 0 or -errno.
int ckvm_timer_arm(int64_t t, uint64_t ns);
void ckvm_timer_delete(int64_t t);

#endif
