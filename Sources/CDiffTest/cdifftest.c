#define _GNU_SOURCE
#include "cdifftest.h"
#include <signal.h>
#include <string.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <cpuid.h>

// Globals shared with the assembly below (hidden: referenced RIP-relative from a shared object).
__attribute__((visibility("hidden"))) uint64_t dt_host_rsp;
__attribute__((visibility("hidden"))) uint64_t dt_guest_rsp;
__attribute__((visibility("hidden"))) DTNative *dt_cur;
__attribute__((visibility("hidden"))) const void *dt_code;
__attribute__((visibility("hidden"))) volatile int32_t dt_active;
__attribute__((visibility("hidden"))) int32_t dt_avx;

extern char dt_exit_stub[];
extern char dt_fault_stub[];

// Entry: rdi = state, rsi = code. Callee-saved registers, MXCSR and FCW are preserved.
__asm__(
    ".intel_syntax noprefix\n"
    ".text\n"
    ".globl dt_run\n"
    ".type dt_run,@function\n"
    "dt_run:\n"
    "  push rbp\n  push rbx\n  push r12\n  push r13\n  push r14\n  push r15\n"
    "  sub rsp, 24\n"
    "  stmxcsr [rsp]\n"
    "  fnstcw [rsp+4]\n"
    "  mov [rip+dt_host_rsp], rsp\n"
    "  mov [rip+dt_cur], rdi\n"
    "  mov [rip+dt_code], rsi\n"
    "  mov dword ptr [rip+dt_active], 1\n"
    "  mov eax, 7\n"
    "  xor edx, edx\n"
    "  xrstor64 [rdi+192]\n"
    "  push qword ptr [rdi+136]\n"
    "  popfq\n"
    "  mov rax, [rdi]\n  mov rcx, [rdi+8]\n  mov rdx, [rdi+16]\n  mov rbx, [rdi+24]\n"
    "  mov rsp, [rdi+32]\n  mov rbp, [rdi+40]\n  mov rsi, [rdi+48]\n"
    "  mov r8, [rdi+64]\n  mov r9, [rdi+72]\n  mov r10, [rdi+80]\n  mov r11, [rdi+88]\n"
    "  mov r12, [rdi+96]\n  mov r13, [rdi+104]\n  mov r14, [rdi+112]\n  mov r15, [rdi+120]\n"
    "  mov rdi, [rdi+56]\n"
    "  jmp qword ptr [rip+dt_code]\n"
    ".globl dt_exit_stub\n"
    "dt_exit_stub:\n"
    "  mov [rip+dt_guest_rsp], rsp\n"
    "  mov rsp, [rip+dt_cur]\n"
    "  lea rsp, [rsp+144]\n"
    "  pushfq\n"
    "  lea rsp, [rsp-136]\n"
    "  mov [rsp], rax\n  mov [rsp+8], rcx\n  mov [rsp+16], rdx\n  mov [rsp+24], rbx\n"
    "  mov [rsp+40], rbp\n  mov [rsp+48], rsi\n  mov [rsp+56], rdi\n"
    "  mov [rsp+64], r8\n  mov [rsp+72], r9\n  mov [rsp+80], r10\n  mov [rsp+88], r11\n"
    "  mov [rsp+96], r12\n  mov [rsp+104], r13\n  mov [rsp+112], r14\n  mov [rsp+120], r15\n"
    "  mov rax, [rip+dt_guest_rsp]\n"
    "  mov [rsp+32], rax\n"
    "  mov dword ptr [rip+dt_active], 0\n"
    "  mov rdi, rsp\n"
    "  mov eax, 7\n"
    "  xor edx, edx\n"
    "  xsave64 [rdi+192]\n"
    "  xor eax, eax\n"
    "dt_out:\n"
    "  mov dword ptr [rip+dt_active], 0\n"
    "  mov rsp, [rip+dt_host_rsp]\n"
    "  cld\n"
    "  fninit\n"
    "  ldmxcsr [rsp]\n"
    "  fldcw [rsp+4]\n"
    "  cmp dword ptr [rip+dt_avx], 0\n"
    "  je 1f\n"
    "  vzeroupper\n"
    "1:\n"
    "  add rsp, 24\n"
    "  pop r15\n  pop r14\n  pop r13\n  pop r12\n  pop rbx\n  pop rbp\n"
    "  ret\n"
    ".globl dt_fault_stub\n"
    "dt_fault_stub:\n"
    "  mov eax, 1\n"
    "  jmp dt_out\n"
    ".att_syntax prefix\n");

static struct sigaction old_actions[32];
static int installed;
static __thread int altstack_ready;

static const int dt_signals[] = { SIGSEGV, SIGILL, SIGFPE, SIGBUS, SIGTRAP };

static void dt_handler(int sig, siginfo_t *si, void *ucv) {
    ucontext_t *uc = (ucontext_t *)ucv;
    if (!dt_active) {
        // Not ours: put the previous handler back; the faulting instruction runs again and
        // reaches it (crash reporting keeps working).
        sigaction(sig, &old_actions[sig], NULL);
        return;
    }
    dt_active = 0;
    DTNative *st = dt_cur;
    greg_t *g = uc->uc_mcontext.gregs;
    st->vector = (int32_t)g[REG_TRAPNO];
    st->signo = sig;
    st->err = (uint64_t)g[REG_ERR];
    st->addr = st->vector == 14 ? (uint64_t)g[REG_CR2] : (uint64_t)si->si_addr;
    st->rip = (uint64_t)g[REG_RIP];
    st->rflags = (uint64_t)g[REG_EFL];
    st->gpr[0] = g[REG_RAX]; st->gpr[1] = g[REG_RCX]; st->gpr[2] = g[REG_RDX]; st->gpr[3] = g[REG_RBX];
    st->gpr[4] = g[REG_RSP]; st->gpr[5] = g[REG_RBP]; st->gpr[6] = g[REG_RSI]; st->gpr[7] = g[REG_RDI];
    st->gpr[8] = g[REG_R8]; st->gpr[9] = g[REG_R9]; st->gpr[10] = g[REG_R10]; st->gpr[11] = g[REG_R11];
    st->gpr[12] = g[REG_R12]; st->gpr[13] = g[REG_R13]; st->gpr[14] = g[REG_R14]; st->gpr[15] = g[REG_R15];
    // FP state at the fault: the kernel's frame holds an FXSAVE image, followed by the XSAVE
    // header and extended components when the software-reserved bytes carry FP_XSTATE_MAGIC1.
    memset(st->xsave, 0, sizeof st->xsave);
    st->xstateSize = 0;
    const uint8_t *fp = (const uint8_t *)uc->uc_mcontext.fpregs;
    if (fp) {
        memcpy(st->xsave, fp, 512);
        uint32_t magic1, xsize;
        memcpy(&magic1, fp + 464, 4);
        memcpy(&xsize, fp + 464 + 16, 4);
        if (magic1 == 0x46505853u && xsize >= 576) {
            size_t n = xsize < sizeof st->xsave ? xsize : sizeof st->xsave;
            memcpy(st->xsave + 512, fp + 512, n - 512);
            st->xstateSize = n;
        } else {
            uint64_t bv = 3;
            memcpy(st->xsave + 512, &bv, 8);
            st->xstateSize = 512;
        }
        memset(st->xsave + 464, 0, 48);
    }
    g[REG_RIP] = (greg_t)dt_fault_stub;
    g[REG_RSP] = (greg_t)dt_host_rsp;
    g[REG_EFL] = 0x202;
}

int dt_setup(void) {
    if (!altstack_ready) {
        size_t sz = 1 << 16;
        void *p = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) return -1;
        stack_t ss = { .ss_sp = p, .ss_flags = 0, .ss_size = sz };
        if (sigaltstack(&ss, NULL) != 0) return -1;
        altstack_ready = 1;
    }
    uint32_t r[4];
    dt_cpuid(1, 0, r);
    dt_avx = (r[2] >> 28) & 1 && (r[2] >> 27) & 1 && (dt_xgetbv0() & 6) == 6;
    if ((r[2] & (1u << 27)) == 0) return -2;   // no OSXSAVE: XSAVE/XRSTOR unusable
    // (Re)install every time: a crash elsewhere may have put the previous handler back.
    for (size_t i = 0; i < sizeof dt_signals / sizeof dt_signals[0]; i++) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_sigaction = dt_handler;
        sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
        sigemptyset(&sa.sa_mask);
        struct sigaction old;
        if (sigaction(dt_signals[i], &sa, &old) != 0) return -1;
        if (!installed || old.sa_sigaction != dt_handler) old_actions[dt_signals[i]] = old;
    }
    installed = 1;
    return 0;
}

int dt_reserve(uint64_t addr, size_t len) {
    void *p = mmap((void *)addr, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (p == MAP_FAILED) return -1;
    if ((uint64_t)p != addr) { munmap(p, len); return -1; }
    return 0;
}

int dt_protect(uint64_t addr, size_t len, int prot) {
    int p = 0;
    if (prot & 1) p |= PROT_READ;
    if (prot & 2) p |= PROT_WRITE;
    if (prot & 4) p |= PROT_EXEC;
    return mprotect((void *)addr, len, p);
}

uint64_t dt_exit_address(void) { return (uint64_t)dt_exit_stub; }

void dt_cpuid(uint32_t leaf, uint32_t subleaf, uint32_t out[4]) {
    __cpuid_count(leaf, subleaf, out[0], out[1], out[2], out[3]);
}

uint64_t dt_xgetbv0(void) {
    uint32_t r[4];
    dt_cpuid(1, 0, r);
    if ((r[2] & (1u << 27)) == 0) return 0;
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return (uint64_t)hi << 32 | lo;
}

void dt_selectors(uint16_t out[6]) {
    uint16_t v;
    __asm__ volatile("mov %%es, %0" : "=r"(v)); out[0] = v;
    __asm__ volatile("mov %%cs, %0" : "=r"(v)); out[1] = v;
    __asm__ volatile("mov %%ss, %0" : "=r"(v)); out[2] = v;
    __asm__ volatile("mov %%ds, %0" : "=r"(v)); out[3] = v;
    __asm__ volatile("mov %%fs, %0" : "=r"(v)); out[4] = v;
    __asm__ volatile("mov %%gs, %0" : "=r"(v)); out[5] = v;
}
