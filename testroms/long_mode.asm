; long_mode.asm - enters IA-32e mode from real mode (PAE + EFER.LME + CR0.PG, far jump to a
; 64-bit code segment) and checks 64-bit ALU with REX registers, RIP-relative addressing,
; 1 GiB and 2 MiB pages, a higher-half alias, IRETQ, #PF/#GP/#UD through a 64-bit IDT, and the
; canonical-address #GP. Prints PASS/FAIL lines on COM1; exits through port 0xF4 with 0 on success.
bits 16
org 0xF0000

IDT        equ 0x1000          ; 256 x 16-byte gates
VARS       equ 0x2000
recover    equ VARS + 0        ; qword
pf_count   equ VARS + 8
pf_code    equ VARS + 12
pf_cr2     equ VARS + 16       ; qword
pf_vec     equ VARS + 24
fails      equ VARS + 28
PML4       equ 0x10000
PDPT0      equ 0x11000
PD1        equ 0x12000
PT1        equ 0x13000
KCODE      equ 0x18
KDATA      equ 0x10

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
    jmp dword 0x08:pm32

bits 32
pm32:
    mov ax, KDATA
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov esp, 0x7000
    ; Page tables: PML4[0] and PML4[511] -> PDPT0; PDPT0[0] = 1 GiB identity page;
    ; PDPT0[1] -> PD1: PD1[0] = 2 MiB page -> 0x600000, PD1[1] -> PT1 (4 KiB pages).
    mov edi, PML4
    mov ecx, 4 * 4096 / 4
    xor eax, eax
    rep stosd
    mov dword [PML4], PDPT0 | 3
    mov dword [PML4 + 511 * 8], PDPT0 | 3
    mov dword [PDPT0], 0x83
    mov dword [PDPT0 + 8], PD1 | 3
    mov dword [PD1], 0x600000 | 0x83
    mov dword [PD1 + 8], PT1 | 3
    mov dword [PT1], 0x300000 | 3
    mov dword [PT1 + 8], 0                 ; not present
    mov eax, cr4
    or eax, 0x20                           ; PAE
    mov cr4, eax
    mov eax, PML4
    mov cr3, eax
    mov ecx, 0xC0000080
    rdmsr
    or eax, 0x100                          ; LME
    wrmsr
    mov eax, cr0
    or eax, 0x80000000
    mov cr0, eax                           ; IA-32e mode active (compatibility mode)
    mov ecx, 0xC0000080
    rdmsr
    mov ebx, eax                           ; remember EFER for the LMA check
    jmp KCODE:long64

bits 64
long64:
    mov ax, KDATA
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov rsp, 0x7000
    mov dword [fails], 0
    call setup_idt
    PRINT "long_mode: 64-bit mode"
    test ebx, 0x400
    CHECK nz, "EFER.LMA set by enabling paging with LME"
    mov eax, 0x80000001
    cpuid
    test edx, 1 << 29
    CHECK nz, "CPUID reports long mode"

    ; 64-bit ALU and REX registers
    mov rax, 0x123456789ABCDEF0
    mov r8, rax
    add r8, r8
    mov r9, 0x2468ACF13579BDE0
    cmp r8, r9
    CHECK e, "64-bit ADD with R8/R9"
    mov r15, -1
    mov r15d, 5
    cmp r15, 5
    CHECK e, "32-bit write to R15D zero-extends"
    mov esi, 0x1234
    mov sil, 0xFF
    cmp esi, 0x12FF
    CHECK e, "REX byte register SIL"
    mov rax, 0x100000000
    imul rax, rax, 3
    mov rcx, 0x300000000
    cmp rax, rcx
    CHECK e, "64-bit IMUL"
    mov rax, -1
    mov rcx, 2
    mul rcx
    cmp rdx, 1
    CHECK e, "64-bit MUL high half"
    mov rdx, -16
    sar rdx, 2
    cmp rdx, -4
    CHECK e, "64-bit SAR"
    mov r12, 0xFEDCBA9876543210
    push r12
    pop r13
    cmp r13, r12
    CHECK e, "PUSH/POP of R12/R13"
    mov eax, -5
    movsxd r10, eax
    cmp r10, -5
    CHECK e, "MOVSXD"

    ; RIP-relative addressing
    lea rax, [rel qdata]
    mov rbx, qdata
    cmp rax, rbx
    CHECK e, "LEA RIP-relative"
    mov rax, [rel qdata]
    mov rcx, 0x0BADC0FFEE0DDF00
    cmp rax, rcx
    CHECK e, "MOV RIP-relative load"

    ; 1 GiB, 2 MiB and 4 KiB pages; higher-half alias through PML4[511]
    mov qword [0x300008], 0x5A5A5A5A
    mov rax, 0xFFFFFF8000300008
    cmp qword [rax], 0x5A5A5A5A
    CHECK e, "1G page read through the higher-half alias"
    mov rax, 0x40000010
    mov qword [rax], 0x1357
    cmp qword [0x600010], 0x1357
    CHECK e, "2M page maps 0x40000000 to 0x600000"
    mov rax, 0x40200020
    mov qword [rax], 0x2468
    cmp qword [0x300020], 0x2468
    CHECK e, "4K page maps 0x40200000 to 0x300000"
    test dword [PDPT0], 0x20
    CHECK nz, "1G PDPTE accessed"
    test dword [PD1], 0x40
    CHECK nz, "2M PDE dirty"

    ; exceptions through the 64-bit IDT
    mov rax, 0x40201008
    TRY {mov rbx, [rax]}
    cmp dword [pf_vec], 14
    CHECK e, "not-present page raises #PF"
    cmp dword [pf_code], 0
    CHECK e, "#PF error code 0"
    mov rax, 0x40201008
    cmp [pf_cr2], rax
    CHECK e, "CR2 holds the 64-bit faulting address"
    mov rax, 0x0000800000000000
    TRY {mov rbx, [rax]}
    cmp dword [pf_vec], 13
    CHECK e, "non-canonical address raises #GP"
    cmp dword [pf_code], 0
    CHECK e, "#GP error code 0"
    mov rax, 0xFFFF7FFFFFFFFFF0
    TRY {mov qword [rax], 1}
    cmp dword [pf_vec], 13
    CHECK e, "non-canonical negative address raises #GP"
    TRY {ud2}
    cmp dword [pf_vec], 6
    CHECK e, "UD2 raises #UD"
    mov rax, 0x0000800000000000
    TRY {jmp rax}
    cmp dword [pf_vec], 13
    CHECK e, "jump to a non-canonical address raises #GP"

    ; IRETQ within ring 0
    mov rbp, rsp
    mov rax, rsp
    push KDATA
    push rax
    pushfq
    push KCODE
    push .after_iret
    iretq
    jmp .iret_bad
.after_iret:
    cmp rsp, rbp
    CHECK e, "IRETQ returns with RSP restored"
    jmp .iret_done
.iret_bad:
    PRINT "FAIL IRETQ fell through"
    inc dword [fails]
.iret_done:
    jmp finish

align 8
qdata: dq 0x0BADC0FFEE0DDF00
%include "lib/long64_support.inc"
align 8
gdt:
    dq 0
    dq 0x00CF9B000000FFFF                  ; 0x08: flat 32-bit code
    dq 0x00CF93000000FFFF                  ; 0x10: flat data
    dq 0x00AF9B000000FFFF                  ; 0x18: 64-bit code
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
