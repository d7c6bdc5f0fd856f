; smc.asm - self-modifying code: stores into code that was (or is being) executed must take effect
; at the next instruction, exactly as on hardware (and as the interpreter does), in real mode,
; 32-bit protected mode and 64-bit mode. Cases: patching the next instruction, patching an
; instruction later in the current block, patching an instruction of the current block that was
; already executed (a loop rewriting its own body), code written by REP MOVSB and then run, code
; overwritten by REP MOVSB with different code and run again, a routine reached by a chained
; call from its page-mate being patched between calls, and a store that overwrites the very
; instruction bytes that are executing next through an aliased linear mapping (64-bit: 2 MiB
; page alias of the same physical code).
; The routines live in RAM (the ROM is read-only): each is assembled at its run address with
; vstart and copied there with REP MOVSB first.
; Prints PASS/FAIL lines on COM1; exits through port 0xF4 with 0 when every check passed.
%define ROM_ORG 0xF0000
%include "lib/rom.inc"
%include "lib/modes.inc"

RM_SEG      equ 0x0700          ; real-mode routines at 0700:0000 (linear 0x7000)
PM_CODE     equ 0x30000         ; 32-bit routines
LM_CODE     equ 0x40000         ; 64-bit routines
COPY_AREA   equ 0x31000         ; 32-bit REP MOVSB target (its own page)

main:
    ; ---- real mode ------------------------------------------------------------------------
    mov ax, RM_SEG
    mov es, ax
    xor di, di
    mov si, OFS(section.rm16.start)
    mov cx, rm16_end - rm16_start
    cld
    rep movsb
    xor ax, ax
    mov es, ax
    call RM_SEG:rm_patch_next
    EXPECT16 ax, 0x1142, "real mode: patch the next instruction"
    call RM_SEG:rm_patch_next
    EXPECT16 ax, 0x1142, "real mode: patched instruction again"
    call RM_SEG:rm_loop
    EXPECT16 ax, 9, "real mode: loop rewriting its own body"

    ; ---- 32-bit protected mode ------------------------------------------------------------
    ENTER_PM32
    mov esi, section.pm32.start
    mov edi, PM_CODE
    mov ecx, pm32_end - pm32_start
    rep movsb
    call pm_patch_next
    EXPECT32 eax, 0x11111142, "pm32: patch the next instruction"
    call pm_patch_next
    EXPECT32 eax, 0x11111142, "pm32: patched instruction again"
    call pm_patch_later
    EXPECT32 eax, 0x77, "pm32: patch a later instruction of the same block"
    call pm_loop
    EXPECT32 eax, 9, "pm32: loop rewriting its own body"
    call pm_chain
    EXPECT32 ebx, 11, "pm32: chained callee patched between calls"

    ; code written by REP MOVSB, run, overwritten with other code, run again
    mov esi, LIN(routine_a)
    mov edi, COPY_AREA
    mov ecx, routine_a_end - routine_a
    rep movsb
    call COPY_AREA
    EXPECT32 eax, 0xAAAA, "pm32: code written by rep movsb"
    mov ecx, 3
.again:
    call COPY_AREA                      ; hot: translated and chained
    loop .again
    mov esi, LIN(routine_b)
    mov edi, COPY_AREA
    mov ecx, routine_b_end - routine_b
    rep movsb
    call COPY_AREA
    EXPECT32 eax, 0xBBBB, "pm32: code overwritten by rep movsb"
    ; a store by ordinary MOV into the copied code (byte 1 of 'mov eax, imm32')
    mov byte [COPY_AREA + 1], 0xCC
    call COPY_AREA
    EXPECT32 eax, 0xBBCC, "pm32: code patched by mov after it ran"

    ; ---- 64-bit mode ----------------------------------------------------------------------
    ENTER_LONG64
    mov rsi, section.lm64.start
    mov rdi, LM_CODE
    mov rcx, lm64_end - lm64_start
    rep movsb
    call lm_patch_next
    EXPECT32 rax, 0x22222242, "long mode: patch the next instruction (rip-relative store)"
    call lm_loop
    EXPECT32 rax, 9, "long mode: loop rewriting its own body"
    ; alias: linear 1 GiB + x maps the same physical page as x (PDPT entry 1 -> the same PD)
    mov rax, [LIB_PDPT]
    mov [LIB_PDPT + 8], rax
    mov rax, cr3
    mov cr3, rax
    mov rax, 0x40000000 + lm_alias_store
    call rax
    EXPECT32 rax, 0x33333342, "long mode: store through an alias of the running code"
    FINISH

; ---- real-mode routines (run at RM_SEG:0) ---------------------------------------------------
section rm16 vstart=0 follows=.text align=16
[bits 16]
rm16_start:
rm_patch_next:
    mov byte [cs:.p + 1], 0x42
.p: mov ax, 0x1111
    retf
rm_loop:
    mov cx, 5
    xor ax, ax
.l: add ax, 1
    mov byte [cs:.l + 2], 2
    dec cx
    jnz .l
    mov byte [cs:.l + 2], 1             ; restore for the next run
    retf
rm16_end:

; ---- 32-bit routines (run at PM_CODE) -------------------------------------------------------
section pm32 vstart=PM_CODE follows=rm16 align=16
[bits 32]
pm32_start:
pm_patch_next:
    mov byte [.p + 1], 0x42
.p: mov eax, 0x11111111
    ret
pm_patch_later:
    mov byte [.t + 1], 0x77
    nop
    add ecx, 1
    nop
.t: mov eax, 0x33
    ret
pm_loop:
    mov ecx, 5
    xor eax, eax
.l: add eax, 1
    mov byte [.l + 2], 2
    dec ecx
    jnz .l
    mov byte [.l + 2], 1
    ret
pm_chain:
    xor ebx, ebx
    mov ecx, 3
.l: call .callee
    add ebx, eax
    mov byte [.callee + 1], 5
    dec ecx
    jnz .l
    mov byte [.callee + 1], 1
    ret
.callee:
    mov eax, 1
    ret
pm32_end:

; ---- 64-bit routines (run at LM_CODE) -------------------------------------------------------
section lm64 vstart=LM_CODE follows=pm32 align=16
[bits 64]
lm64_start:
lm_patch_next:
    mov byte [rel .p + 1], 0x42
.p: mov eax, 0x22222222
    ret
lm_loop:
    mov ecx, 5
    xor eax, eax
.l: add eax, 1
    mov byte [rel .l + 2], 2
    dec ecx
    jnz .l
    mov byte [rel .l + 2], 1
    ret
lm_alias_store:
    ; runs at 1 GiB + LM_CODE + ...; patches the next instruction through the identity mapping
    mov byte [abs .p + 1], 0x42
.p: mov eax, 0x33333333
    ret
lm64_end:

; ---- routines copied by REP MOVSB (position independent) ------------------------------------
section .text
[bits 32]
routine_a:
    mov eax, 0xAAAA
    ret
routine_a_end:
routine_b:
    mov eax, 0xBBBB
    nop
    nop
    ret
routine_b_end:
