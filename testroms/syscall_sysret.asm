; syscall_sysret.asm - SYSCALL/SYSRET in IA-32e mode: ring 0 -> SYSRET -> ring 3 -> SYSCALL ->
; SYSRET round trips with register checks (RCX/R11, SFMASK, STAR selectors), a user-mode #PF
; (U bit in the error code, delivered on the TSS RSP0 stack), #UD for SYSCALL without EFER.SCE and
; from compatibility mode, SYSRET to compatibility mode, #GP for SYSRET to a non-canonical RCX,
; and SWAPGS. Prints PASS/FAIL lines on COM1; exits through port 0xF4 with 0 on success.
bits 16
org 0xF0000

IDT        equ 0x1000
VARS       equ 0x2000
recover    equ VARS + 0        ; qword
pf_count   equ VARS + 8
pf_code    equ VARS + 12
pf_cr2     equ VARS + 16       ; qword
pf_vec     equ VARS + 24
fails      equ VARS + 28
k_cs       equ VARS + 32
k_ss       equ VARS + 36
k_rflags   equ VARS + 40       ; qword
k_rcx      equ VARS + 48       ; qword
k_r11      equ VARS + 56       ; qword
user_rsp   equ VARS + 64       ; qword
u_cs       equ VARS + 72
u_ss       equ VARS + 76
u_flags    equ VARS + 80       ; qword
c_cs       equ VARS + 88
c_ss       equ VARS + 92
c_esp      equ VARS + 96
c_ud_cs    equ VARS + 100
TSS        equ 0x3000
PML4       equ 0x10000
PDPT0      equ 0x11000
PD1        equ 0x12000
PT1        equ 0x13000
KSTACK     equ 0x7000          ; SYSCALL handler stack
RSP0       equ 0x8000          ; TSS.RSP0: exceptions from ring 3
USTACK     equ 0x6000
KCODE      equ 0x08
KDATA      equ 0x10
UCODE32    equ 0x18
UDATA      equ 0x20
UCODE64    equ 0x28
TSSSEL     equ 0x30
CODE32     equ 0x40
USERFLAGS  equ 0x3202          ; IF, IOPL 3 (ring 3 may print)

; ---- PASS/FAIL helpers (64-bit) -------------------------------------------------------------
%macro PRINT 1
    jmp %%after
%%msg: db %1, 13, 10, 0
%%after:
    push rsi
    mov esi, %%msg
    call puts
    pop rsi
%endmacro

; CHECK cc, "name": PASS when condition cc holds (flags from the preceding compare).
%macro CHECK 2
    j%1 %%pass
    push rsi
    mov esi, %%fmsg
    call puts
    pop rsi
    inc dword [fails]
    jmp %%done
%%fmsg: db "FAIL ", %2, 13, 10, 0
%%pmsg: db "PASS ", %2, 13, 10, 0
%%pass:
    push rsi
    mov esi, %%pmsg
    call puts
    pop rsi
%%done:
%endmacro

; TRY {instruction}: runs it; a #PF/#GP/#UD resumes after it with pf_count/pf_vec/pf_code/pf_cr2 set.
%macro TRY 1
    mov dword [pf_count], 0
    mov dword [pf_vec], 0xFF
    mov qword [recover], %%rec
    %1
%%rec:
%endmacro

start:
    cli
    xor ax, ax
    mov ss, ax
    mov sp, 0x7000
    o32 lgdt [cs:gdt_desc - $$]
    mov eax, cr0
    or al, 1
    mov cr0, eax
    jmp dword CODE32:pm32

bits 32
pm32:
    mov ax, KDATA
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov esp, KSTACK
    mov edi, PML4
    mov ecx, 4 * 4096 / 4
    xor eax, eax
    rep stosd
    mov dword [PML4], PDPT0 | 7
    mov dword [PDPT0], 0x87                ; 1 GiB identity, user accessible
    mov dword [PDPT0 + 8], PD1 | 7
    mov dword [PD1 + 8], PT1 | 7
    mov dword [PT1], 0x300000 | 3          ; 0x40200000: supervisor only
    mov dword [PT1 + 8], 0x301000 | 5      ; 0x40201000: user read-only
    mov edi, TSS                           ; 64-bit TSS with RSP0
    mov ecx, 104 / 4
    xor eax, eax
    rep stosd
    mov dword [TSS + 4], RSP0
    mov word [TSS + 102], 104              ; I/O map base beyond the limit
    mov eax, cr4
    or eax, 0x20
    mov cr4, eax
    mov eax, PML4
    mov cr3, eax
    mov ecx, 0xC0000080
    rdmsr
    or eax, 0x100
    wrmsr
    mov eax, cr0
    or eax, 0x80000000
    mov cr0, eax
    jmp KCODE:long64

bits 64
long64:
    mov ax, KDATA
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov rsp, KSTACK
    mov dword [fails], 0
    call setup_idt
    mov ax, TSSSEL
    ltr ax
    PRINT "syscall_sysret: SYSCALL/SYSRET in IA-32e mode"

    mov eax, 0x80000001
    cpuid
    test edx, 1 << 11
    CHECK nz, "CPUID reports SYSCALL"
    TRY {syscall}
    cmp dword [pf_vec], 6
    CHECK e, "SYSCALL without EFER.SCE raises #UD"

    ; EFER.SCE, STAR, LSTAR, SFMASK
    mov ecx, 0xC0000080
    rdmsr
    or eax, 1
    wrmsr
    mov ecx, 0xC0000081
    xor eax, eax
    mov edx, (UCODE32 << 16) | KCODE
    wrmsr
    mov ecx, 0xC0000082
    mov rax, syscall_entry
    mov rdx, rax
    shr rdx, 32
    wrmsr
    mov ecx, 0xC0000084
    mov eax, 0x700                         ; clear TF, IF, DF
    xor edx, edx
    wrmsr
    mov ecx, 0xC0000082
    rdmsr
    mov rbx, syscall_entry
    cmp eax, ebx
    CHECK e, "LSTAR reads back"

    ; SYSRET to 64-bit ring 3.
    mov rcx, user64
    mov r11, USERFLAGS
    mov rsp, USTACK
    o64 sysret

user64:
    mov eax, cs
    mov [u_cs], eax
    mov eax, ss
    mov [u_ss], eax
    pushfq
    pop qword [u_flags]
    cmp dword [u_cs], UCODE64 | 3
    CHECK e, "SYSRET loads CS = STAR[63:48] + 16 | 3"
    cmp dword [u_ss], UDATA | 3
    CHECK e, "SYSRET loads SS = STAR[63:48] + 8 | 3"
    cmp qword [u_flags], USERFLAGS
    CHECK e, "SYSRET loads RFLAGS from R11"
    cmp rsp, USTACK
    CHECK e, "SYSRET leaves RSP alone"

    ; Round trip with register checks: the kernel computes RDI + RSI.
    mov eax, 1
    mov rdi, 40
    mov rsi, 2
    mov rbx, 0x1111111111111111
    mov rbp, 0x2222222222222222
    mov r12, 0x3333333333333333
    mov r15, 0x4444444444444444
    std                                     ; DF must be cleared by SFMASK in the kernel
    syscall
.ret1:
    pushfq
    pop qword [u_flags]
    cld
    mov r14, rcx
    cmp rax, 42
    CHECK e, "system call result in RAX"
    mov rax, .ret1
    cmp r14, rax
    CHECK e, "RCX holds the return address after SYSRET"
    cmp qword [k_rcx], rax
    CHECK e, "kernel saw the return address in RCX"
    mov rax, [k_r11]
    and rax, 0x3600
    cmp rax, 0x3600
    CHECK e, "kernel saw user RFLAGS (IF, DF, IOPL) in R11"
    cmp dword [k_cs], KCODE
    CHECK e, "SYSCALL loads CS = STAR[47:32]"
    cmp dword [k_ss], KDATA
    CHECK e, "SYSCALL loads SS = STAR[47:32] + 8"
    test qword [k_rflags], 0x600
    CHECK z, "SFMASK cleared IF and DF in the kernel"
    test qword [u_flags], 0x400
    CHECK nz, "DF restored from R11 by SYSRET"
    mov rax, 0x1111111111111111
    cmp rbx, rax
    CHECK e, "RBX preserved"
    mov rax, 0x2222222222222222
    cmp rbp, rax
    CHECK e, "RBP preserved"
    mov rax, 0x3333333333333333
    cmp r12, rax
    CHECK e, "R12 preserved"
    mov rax, 0x4444444444444444
    cmp r15, rax
    CHECK e, "R15 preserved"
    cmp rsp, USTACK
    CHECK e, "user RSP restored"
    mov eax, cs
    cmp eax, UCODE64 | 3
    CHECK e, "back in ring 3"

    ; User-mode page faults: the U bit in the error code.
    mov rax, 0x40200000
    TRY {mov rbx, [rax]}
    cmp dword [pf_vec], 14
    CHECK e, "ring 3 read of a supervisor page raises #PF"
    cmp dword [pf_code], 5
    CHECK e, "#PF code 5 (P|U)"
    mov rax, 0x40201000
    TRY {mov rbx, [rax]}
    cmp dword [pf_count], 0
    CHECK e, "ring 3 read of a user read-only page works"
    TRY {mov qword [rax], 1}
    cmp dword [pf_code], 7
    CHECK e, "#PF code 7 (P|W|U) for a write to a read-only user page"
    mov eax, cs
    cmp eax, UCODE64 | 3
    CHECK e, "IRETQ from the handler returned to ring 3"
    TRY {cli}
    cmp dword [pf_vec], 0xFF
    CHECK e, "CLI at ring 3 with IOPL 3 is allowed"
    TRY {hlt}
    cmp dword [pf_vec], 13
    CHECK e, "HLT at ring 3 raises #GP"

    ; Back to the kernel for good.
    xor eax, eax
    syscall
    PRINT "FAIL returned from the final SYSCALL"
    jmp finish

syscall_entry:
    mov [user_rsp], rsp
    mov rsp, KSTACK
    mov [k_rcx], rcx
    mov [k_r11], r11
    push rax
    mov eax, cs
    mov [k_cs], eax
    mov eax, ss
    mov [k_ss], eax
    pushfq
    pop qword [k_rflags]
    pop rax
    test eax, eax
    jz kernel_stage2
    mov rax, rdi
    add rax, rsi
    mov rsp, [user_rsp]
    o64 sysret

kernel_stage2:
    mov rsp, KSTACK
    mov eax, cs
    cmp eax, KCODE
    CHECK e, "final SYSCALL reached ring 0"

    ; SYSRET to a non-canonical RCX raises #GP(0) in ring 0.
    mov rcx, 0x0000800000000000
    mov r11, 2
    TRY {o64 sysret}
    cmp dword [pf_vec], 13
    CHECK e, "SYSRET to a non-canonical RCX raises #GP"
    mov eax, cs
    cmp eax, KCODE
    CHECK e, "... while still in ring 0"

    ; SWAPGS
    mov ecx, 0xC0000101                    ; GS_BASE
    mov eax, 0x1000
    xor edx, edx
    wrmsr
    mov ecx, 0xC0000102                    ; KERNEL_GS_BASE
    mov eax, 0x2000
    mov edx, 0xFFFF8000
    wrmsr
    swapgs
    mov ecx, 0xC0000101
    rdmsr
    cmp eax, 0x2000
    CHECK e, "SWAPGS exchanges GS_BASE and KERNEL_GS_BASE"
    mov ecx, 0xC0000102
    rdmsr
    cmp eax, 0x1000
    CHECK e, "... both ways"
    swapgs

    ; SYSRET to compatibility mode; SYSCALL there raises #UD (Intel).
    mov eax, 6
    mov rbx, compat_ud
    call set_gate
    mov ecx, 0xFFFFFFFF
    shl rcx, 32
    or rcx, user32                         ; upper half must be ignored
    mov r11, USERFLAGS
    mov rsp, USTACK
    sysret

compat_ud:
    mov eax, [rsp + 8]                     ; saved CS
    mov [c_ud_cs], eax
    mov rsp, KSTACK
    mov eax, 6
    mov rbx, ud_handler
    call set_gate
    cmp dword [c_cs], UCODE32 | 3
    CHECK e, "32-bit SYSRET loads CS = STAR[63:48] | 3"
    cmp dword [c_ss], UDATA | 3
    CHECK e, "32-bit SYSRET loads SS = STAR[63:48] + 8 | 3"
    cmp dword [c_esp], USTACK
    CHECK e, "compatibility-mode code runs on the user stack"
    cmp dword [c_ud_cs], UCODE32 | 3
    CHECK e, "SYSCALL in compatibility mode raises #UD"
    jmp finish

bits 32
user32:
    ; DS/ES were nulled by the IRETQ back to ring 3 (DPL 0 data); compatibility mode needs them.
    mov ax, UDATA | 3
    mov ds, ax
    mov es, ax
    mov eax, cs
    mov [c_cs], eax
    mov eax, ss
    mov [c_ss], eax
    mov [c_esp], esp
    syscall
    hlt
bits 64
%include "lib/long64_support.inc"
align 8
gdt:
    dq 0
    dq 0x00AF9B000000FFFF                  ; 0x08: 64-bit code, DPL 0
    dq 0x00CF93000000FFFF                  ; 0x10: data, DPL 0
    dq 0x00CFFB000000FFFF                  ; 0x18: 32-bit code, DPL 3
    dq 0x00CFF3000000FFFF                  ; 0x20: data, DPL 3
    dq 0x00AFFB000000FFFF                  ; 0x28: 64-bit code, DPL 3
    dq 0x0000890030000067                  ; 0x30: 64-bit TSS at 0x3000, limit 0x67
    dq 0
    dq 0x00CF9B000000FFFF                  ; 0x40: 32-bit code, DPL 0 (for entering long mode)
gdt_end:
gdt_desc:
    dw gdt_end - gdt - 1
    dd gdt
idt_desc:
    dw 256 * 16 - 1
    dq IDT

    times 0xFFF0 - ($ - $$) db 0xFF
bits 16
reset:
    jmp 0xF000:(start - 0xF0000)
    times 0x10000 - ($ - $$) db 0xFF
