// Fixed-layout guest CPU state.
//
// This struct is the single home of architectural state. The interpreter reads and writes it
// through a pointer; the JIT addresses fields at the constant offsets exported below (checked
// at compile time with _Static_assert); KVM state transfer copies to and from it. Hot fields
// come first so that generated code reaches them with 8-bit displacements.
#ifndef EMU_CPUSTATE_H
#define EMU_CPUSTATE_H

#include <stdint.h>
#include <stddef.h>

// Segment register indices (order matches the ModRM sreg encoding).
enum {
    SEG_ES = 0, SEG_CS = 1, SEG_SS = 2, SEG_DS = 3, SEG_FS = 4, SEG_GS = 5,
    SEG_LDTR = 6, SEG_TR = 7,
};

// Descriptor-cache attribute bits (a packed copy of descriptor bits 40..55):
// bits 0-3 type, 4 S, 5-6 DPL, 7 P, 8 AVL, 9 L, 10 D/B, 11 G.
enum {
    ATTR_TYPE = 0x00F, ATTR_S = 0x010, ATTR_DPL_SHIFT = 5, ATTR_P = 0x080,
    ATTR_AVL = 0x100, ATTR_L = 0x200, ATTR_DB = 0x400, ATTR_G = 0x800,
};

typedef struct SegmentCache {
    uint64_t base;
    uint32_t limit;    // byte-granular effective limit
    uint16_t selector;
    uint16_t attr;
} SegmentCache;

typedef struct DescriptorTable {
    uint64_t base;
    uint32_t limit;
    uint32_t _pad;
} DescriptorTable;

// Soft-TLB: direct mapped, one array per access kind and privilege.
#define TLB_BITS 8
#define TLB_ENTRIES (1u << TLB_BITS)
enum { TLB_READ = 0, TLB_WRITE = 1, TLB_EXEC = 2, TLB_KINDS = 3 };

typedef struct TLBEntry {
    uint64_t tag;      // linear page address (4 KiB aligned), or TLB_INVALID
    uint64_t addend;   // host pointer minus linear page address
    uint64_t phys;     // physical page address (for diagnostics / invalidation)
    uint64_t _pad;
} TLBEntry;

#define TLB_INVALID 1ull

typedef struct TLB {
    // [user(1)/supervisor(0)][kind][index]
    TLBEntry e[2][TLB_KINDS][TLB_ENTRIES];
} TLB;

// 80-bit x87 register slot (stored as the host long double's 10 bytes, padded).
typedef struct FPReg { uint8_t bytes[16]; } FPReg;
typedef struct VecReg { uint8_t bytes[32]; } VecReg;   // YMM (XMM is the low half)

typedef struct CPUState {
    // --- hot: generated code and the interpreter loop --------------------------------------
    uint64_t gpr[16];        // RAX RCX RDX RBX RSP RBP RSI RDI R8..R15
    uint64_t rip;
    uint64_t rflags;         // architectural flags; status flags valid only when cc_op == 0
    uint64_t cc_dst;         // lazy flags: result
    uint64_t cc_src;         // lazy flags: second operand
    uint64_t cc_src2;        // lazy flags: first operand / carry-in / saved CF
    uint32_t cc_op;          // lazy flags: operation kind (0 = flags are in rflags)
    uint32_t cpl;
    SegmentCache seg[8];     // ES CS SS DS FS GS LDTR TR
    uint64_t cr0, cr2, cr3, cr4, cr8, efer, xcr0;
    TLB *tlb;
    uint64_t icount;         // retired guest instructions
    uint32_t mode;           // MODE_* bits derived from CR0/EFER/CS/RFLAGS
    uint32_t exit_request;   // nonzero: leave the run loop at the next instruction boundary

    // --- system ----------------------------------------------------------------------------
    DescriptorTable gdtr, idtr;
    uint64_t dr[8];
    uint64_t star, lstar, cstar, sfmask, kernel_gs_base;
    uint64_t sysenter_cs, sysenter_esp, sysenter_eip;
    uint64_t tsc_offset, tsc_aux, apic_base, pat, misc_enable;
    uint64_t mtrr_def_type, mtrr_cap;
    uint64_t mtrr_fixed[11];
    uint64_t mtrr_var[16];   // base/mask pairs
    uint64_t platform_info;

    // interrupt and halt state
    uint32_t halted;
    uint32_t intr_shadow;    // STI / MOV SS shadow: interrupts blocked for one instruction
    uint32_t nmi_pending;
    uint32_t nmi_blocked;
    uint32_t shutdown;       // triple fault happened
    uint32_t _pad0;

    // --- x87 / SSE / AVX ----------------------------------------------------------------------
    FPReg st[8];             // physical registers R0..R7
    uint16_t fcw, fsw, ftw, fop; // ftw is the full 2-bit-per-register tag word
    uint32_t mxcsr;
    uint32_t _pad1;
    uint64_t fip, fdp;
    uint16_t fcs, fds;
    uint32_t _pad2;
    VecReg ymm[16];

    // --- statistics -------------------------------------------------------------------------
    uint64_t ud_count;       // unimplemented / invalid opcodes raised as #UD
    uint64_t exceptions;
} CPUState;

enum {
    MODE_PE    = 1u << 0,   // CR0.PE
    MODE_LMA   = 1u << 1,   // EFER.LMA
    MODE_CS64  = 1u << 2,   // CS.L with LMA: 64-bit code
    MODE_CS32  = 1u << 3,   // CS.D: 32-bit default operand/address size
    MODE_SS32  = 1u << 4,   // SS.B: 32-bit stack
    MODE_PG    = 1u << 5,   // CR0.PG
    MODE_VM86  = 1u << 6,   // RFLAGS.VM in protected mode
};

// Offsets for generated code. Checked below so the JIT never guesses.
enum {
    CPU_OFF_GPR    = 0,
    CPU_OFF_RIP    = 128,
    CPU_OFF_RFLAGS = 136,
    CPU_OFF_CC_DST = 144,
    CPU_OFF_CC_SRC = 152,
    CPU_OFF_CC_SRC2 = 160,
    CPU_OFF_CC_OP  = 168,
    CPU_OFF_CPL    = 172,
    CPU_OFF_SEG    = 176,
};
_Static_assert(offsetof(CPUState, gpr) == CPU_OFF_GPR, "gpr offset");
_Static_assert(offsetof(CPUState, rip) == CPU_OFF_RIP, "rip offset");
_Static_assert(offsetof(CPUState, rflags) == CPU_OFF_RFLAGS, "rflags offset");
_Static_assert(offsetof(CPUState, cc_dst) == CPU_OFF_CC_DST, "cc_dst offset");
_Static_assert(offsetof(CPUState, cc_src) == CPU_OFF_CC_SRC, "cc_src offset");
_Static_assert(offsetof(CPUState, cc_src2) == CPU_OFF_CC_SRC2, "cc_src2 offset");
_Static_assert(offsetof(CPUState, cc_op) == CPU_OFF_CC_OP, "cc_op offset");
_Static_assert(offsetof(CPUState, cpl) == CPU_OFF_CPL, "cpl offset");
_Static_assert(offsetof(CPUState, seg) == CPU_OFF_SEG, "seg offset");
_Static_assert(sizeof(SegmentCache) == 16, "segment cache size");
_Static_assert(sizeof(TLBEntry) == 32, "tlb entry size");

// Accessors for the fixed arrays (Swift imports C arrays as tuples; these give pointers).
static inline uint64_t *cpu_gpr(CPUState *s) { return s->gpr; }
static inline SegmentCache *cpu_seg(CPUState *s) { return s->seg; }
static inline uint64_t *cpu_dr(CPUState *s) { return s->dr; }
static inline uint64_t *cpu_mtrr_fixed(CPUState *s) { return s->mtrr_fixed; }
static inline uint64_t *cpu_mtrr_var(CPUState *s) { return s->mtrr_var; }
static inline FPReg *cpu_st(CPUState *s) { return s->st; }
static inline VecReg *cpu_ymm(CPUState *s) { return s->ymm; }
static inline TLBEntry *tlb_entries(TLB *t, int user, int kind) { return t->e[user][kind]; }

#endif
