; sysenter_sysexit.asm - SYSENTER/SYSEXIT round trips between ring 0 and ring 3 in 32-bit
; protected mode: selectors and stack/instruction pointers loaded from the SYSENTER MSRs,
; IF cleared on entry, CPL changes, registers preserved, #GP for SYSENTER_CS = 0.
; Prints PASS/FAIL lines on COM1; exits through port 0xF4 with 0 when every check passed.
bits 16
org 0xF0000

IDT        equ 0x1000
VARS       equ 0x2000
recover    equ VARS + 0
pf_count   equ VARS + 4
pf_code    equ VARS + 8
pf_cr2     equ VARS + 12
pf_vec     equ VARS + 16
fails      equ VARS + 20
entries    equ VARS + 24       ; SYSENTER entry count
saved_cs   equ VARS + 28
saved_ss   equ VARS + 32
saved_fl   equ VARS + 36
saved_esp  equ VARS + 40
user_cs    equ VARS + 44
user_ss    equ VARS + 48
KSTACK     equ 0x7000
USTACK     equ 0x6000

; ---- PASS/FAIL helpers (32-bit) -------------------------------------------------------------
%macro PRINT 1
    jmp %%after
%%msg: db %1, 13, 10, 0
%%after:
    push esi
    mov esi, %%msg
    call puts
    pop esi
%endmacro

; CHECK cc, "name": PASS when condition cc holds (flags from the preceding compare).
%macro CHECK 2
    j%1 %%pass
    push esi
    mov esi, %%fmsg
    call puts
    pop esi
    inc dword [fails]
    jmp %%done
%%fmsg: db "FAIL ", %2, 13, 10, 0
%%pmsg: db "PASS ", %2, 13, 10, 0
%%pass:
    push esi
    mov esi, %%pmsg
    call puts
    pop esi
%%done:
%endmacro

; TRY {instruction}: runs it; a #PF/#GP/#UD resumes after it with pf_count/pf_vec/pf_code/pf_cr2 set.
%macro TRY 1
    mov dword [pf_count], 0
    mov dword [pf_vec], 0xFF
    mov dword [recover], %%rec
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
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov esp, KSTACK
    mov dword [fails], 0
    mov dword [entries], 0
    call setup_idt
    PRINT "sysenter_sysexit: 32-bit protected mode"

    ; SYSENTER with SYSENTER_CS = 0 raises #GP(0).
    mov ecx, 0x174
    xor eax, eax
    xor edx, edx
    wrmsr
    TRY {sysenter}
    cmp dword [pf_vec], 13
    CHECK e, "SYSENTER with SYSENTER_CS = 0 raises #GP"
    cmp dword [pf_code], 0
    CHECK e, "... with error code 0"

    ; MSRs: CS = 0x08 (kernel code), ESP = KSTACK - 0x100, EIP = kernel_entry.
    mov ecx, 0x174
    mov eax, 0x08
    xor edx, edx
    wrmsr
    mov ecx, 0x175
    mov eax, KSTACK - 0x100
    wrmsr
    mov ecx, 0x176
    mov eax, kernel_entry
    wrmsr
    rdmsr
    cmp eax, kernel_entry
    CHECK e, "RDMSR reads back SYSENTER_EIP"

    ; Go to ring 3 with IOPL 3 (so ring 3 can print) and IF set.
    pushfd
    or dword [esp], 0x3200
    popfd
    mov ecx, USTACK
    mov edx, user_code
    sysexit

user_code:
    mov eax, cs
    mov [user_cs], eax
    mov eax, ss
    mov [user_ss], eax
    cmp dword [user_cs], 0x1B
    CHECK e, "SYSEXIT loads CS = SYSENTER_CS + 16 | 3"
    cmp dword [user_ss], 0x23
    CHECK e, "SYSEXIT loads SS = SYSENTER_CS + 24 | 3"
    cmp esp, USTACK
    CHECK e, "SYSEXIT loads ESP from ECX"
    mov eax, cs
    and eax, 3
    cmp eax, 3
    CHECK e, "running at CPL 3"
    ; Round trip: registers other than ECX/EDX/ESP survive; the kernel doubles EAX.
    mov eax, 21
    mov ebx, 0x11111111
    mov esi, 0x22222222
    mov edi, 0x33333333
    mov ebp, 0x44444444
    mov ecx, esp                           ; convention: ECX = user ESP, EDX = return EIP
    mov edx, .back
    sysenter
.back:
    cmp eax, 42
    CHECK e, "kernel result returned in EAX"
    cmp ebx, 0x11111111
    CHECK e, "EBX preserved"
    cmp esi, 0x22222222
    CHECK e, "ESI preserved"
    cmp edi, 0x33333333
    CHECK e, "EDI preserved"
    cmp ebp, 0x44444444
    CHECK e, "EBP preserved"
    cmp esp, USTACK
    CHECK e, "user ESP restored"
    mov eax, cs
    cmp eax, 0x1B
    CHECK e, "back at CPL 3"
    ; Final trip: EAX = 0 asks the kernel to finish.
    xor eax, eax
    mov ecx, esp
    mov edx, .never
    sysenter
.never:
    PRINT "FAIL kernel returned from the final SYSENTER"
    jmp finish

kernel_entry:
    mov [saved_esp], esp
    push eax
    mov eax, cs
    mov [saved_cs], eax
    mov eax, ss
    mov [saved_ss], eax
    pushfd
    pop eax
    mov [saved_fl], eax
    pop eax
    inc dword [entries]
    cmp dword [saved_cs], 0x08
    CHECK e, "SYSENTER loads CS = SYSENTER_CS"
    cmp dword [saved_ss], 0x10
    CHECK e, "SYSENTER loads SS = SYSENTER_CS + 8"
    cmp dword [saved_esp], KSTACK - 0x100
    CHECK e, "SYSENTER loads ESP = SYSENTER_ESP"
    test dword [saved_fl], 0x200
    CHECK z, "SYSENTER clears IF"
    test eax, eax
    jz .done
    add eax, eax
    sysexit                                ; ECX/EDX set by the caller
.done:
    cmp dword [entries], 2
    CHECK e, "two SYSENTER entries"
    jmp finish
%include "lib/pm32_flat_support.inc"
gdt:
    dq 0
    dq 0x00CF9B000000FFFF                  ; 0x08: flat 32-bit code, DPL 0
    dq 0x00CF93000000FFFF                  ; 0x10: flat data, DPL 0
    dq 0x00CFFB000000FFFF                  ; 0x18: flat 32-bit code, DPL 3
    dq 0x00CFF3000000FFFF                  ; 0x20: flat data, DPL 3
gdt_end:
gdt_desc:
    dw gdt_end - gdt - 1
    dd gdt
idt_desc:
    dw 256 * 8 - 1
    dd IDT

    times 0xFFF0 - ($ - $$) db 0xFF
bits 16
reset:
    jmp 0xF000:(start - 0xF0000)
    times 0x10000 - ($ - $$) db 0xFF
