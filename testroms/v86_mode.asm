; v86_mode.asm - virtual-8086 mode: entering it with IRET (EFLAGS.VM), real-mode style segment
; bases, INT n through a DPL-3 gate to ring 0 with the v86 frame (GS FS DS ES SS ESP EFLAGS CS
; EIP) and the data segments cleared, IRET back to v86, and IOPL-sensitive CLI/PUSHF/INT n raising
; #GP(0) with IOPL 0 (the #GP handler turns the INT into the way back to protected mode).
; Prints PASS/FAIL; exits via port 0xF4. Also passes under qemu-system-x86_64 -bios.
%include "lib/pm32_prologue.inc"
TSS        equ 0x3000
V86_DS     equ 0x0400              ; v86 data segment: linear 0x4000
V86_SS     equ 0x0800              ; v86 stack segment: linear 0x8000..0x8FFF
saved_esp  equ VARS + 0x80
int30_n    equ VARS + 0x84
f_eip      equ VARS + 0x88         ; INT 30h frame as seen by the ring-0 handler
f_cs       equ VARS + 0x8C
f_eflags   equ VARS + 0x90
f_esp      equ VARS + 0x94
f_ss       equ VARS + 0x98
f_es       equ VARS + 0x9C
f_ds       equ VARS + 0xA0
f_fs       equ VARS + 0xA4
f_gs       equ VARS + 0xA8
h_ds       equ VARS + 0xAC         ; DS inside the handler before reloading it
h_eax      equ VARS + 0xB0
gp_n       equ VARS + 0xB4
gp_code    equ VARS + 0xB8
gp_ip      equ VARS + 0xBC
int_gp     equ VARS + 0xC0
int_gp_code equ VARS + 0xC4

main:
    mov dword [TSS + 4], KSTACK            ; ESP0
    mov dword [TSS + 8], 0x10              ; SS0
    mov word [TSS + 102], 104              ; no I/O bitmap
    mov ax, 0x18
    ltr ax
    mov eax, 13
    mov ebx, v86_gp
    mov ecx, 0x08 | (0x8E << 16)           ; #GP: DPL 0 interrupt gate
    call set_gate
    mov eax, 0x30
    mov ebx, v86_int30
    mov ecx, 0x08 | (0xEE << 16)           ; DPL 3: reachable by INT from v86 (IOPL checked first)
    call set_gate
    mov word [0x4000], 0
    mov word [0x4002], 0

    ; Enter v86 mode: IRET with VM=1 pops EIP CS EFLAGS ESP SS ES DS FS GS.
    mov [saved_esp], esp
    push dword 0                           ; GS
    push dword 0                           ; FS
    push dword V86_DS                      ; DS
    push dword 0                           ; ES
    push dword V86_SS                      ; SS
    push dword 0x0FFE                      ; ESP
    push dword 0x0002_3002                 ; EFLAGS: VM, IOPL 3, bit 1
    push dword 0xF000                      ; CS
    push dword v86_code - 0xF0000          ; EIP
    iretd

back_in_pm:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov fs, ax
    mov gs, ax
    mov ss, ax
    mov esp, [saved_esp]
    cmp word [0x4000], 0x1234
    CHECK e, "v86 DS:0 addresses linear DS*16"
    cmp dword [int30_n], 1
    CHECK e, "INT 30h from v86 reached the ring-0 handler"
    mov eax, [f_eflags]
    and eax, 0x20000
    cmp eax, 0x20000
    CHECK e, "the frame's EFLAGS has VM set"
    cmp dword [f_cs], 0xF000
    CHECK e, "the frame holds the v86 CS"
    cmp dword [f_ds], V86_DS
    CHECK e, "the frame holds the v86 DS"
    cmp dword [f_ss], V86_SS
    CHECK e, "the frame holds the v86 SS"
    cmp dword [f_esp], 0x0FFE
    CHECK e, "the frame holds the v86 SP"
    cmp dword [h_ds], 0
    CHECK e, "DS is null inside the handler"
    cmp dword [h_eax], 0x55AA
    CHECK e, "registers pass into the handler"
    cmp word [0x4002], 0x1111
    CHECK e, "IRET returned to v86 with the handler's EAX"
    cmp word [0x4004], V86_DS
    CHECK e, "IRET restored the v86 DS"
    cmp dword [gp_n], 2
    CHECK e, "CLI and PUSHF with IOPL 0 raise #GP in v86 mode"
    cmp dword [gp_code], 0
    CHECK e, "... with error code 0"
    cmp dword [int_gp], 1
    CHECK e, "INT n with IOPL 0 in v86 mode raises #GP"
    cmp dword [int_gp_code], 0
    CHECK e, "... with error code 0"
    jmp finish

; ---- ring-0 handlers --------------------------------------------------------------------------
v86_int30:                                 ; frame: EIP CS EFLAGS ESP SS ES DS FS GS
    mov [ss:h_eax], eax
    mov eax, ds
    mov [ss:h_ds], eax
    mov ax, 0x10
    mov ds, ax
    inc dword [int30_n]
    mov eax, [esp + 0]
    mov [f_eip], eax
    mov eax, [esp + 4]
    mov [f_cs], eax
    mov eax, [esp + 8]
    mov [f_eflags], eax
    mov eax, [esp + 12]
    mov [f_esp], eax
    mov eax, [esp + 16]
    mov [f_ss], eax
    mov eax, [esp + 20]
    mov [f_es], eax
    mov eax, [esp + 24]
    mov [f_ds], eax
    mov eax, [esp + 28]
    mov [f_fs], eax
    mov eax, [esp + 32]
    mov [f_gs], eax
    and dword [esp + 8], ~0x3000           ; return with IOPL 0 so CLI/PUSHF fault
    mov eax, 0x1111
    iretd

v86_gp:                                    ; frame: code EIP CS EFLAGS ESP SS ES DS FS GS
    push eax
    push ds
    mov ax, 0x10
    mov ds, ax
    mov eax, [esp + 16]                    ; faulting CS:IP -> linear address
    shl eax, 4
    add eax, [esp + 12]
    cmp byte [eax], 0xCD                   ; INT n with IOPL < 3: our way back to protected mode
    je .int_exit
    inc dword [gp_n]
    mov eax, [esp + 8]
    mov [gp_code], eax
    mov eax, [esp + 12]
    mov [gp_ip], eax
    inc dword [esp + 12]                   ; skip the 1-byte CLI / PUSHF
    pop ds
    pop eax
    add esp, 4                             ; drop the error code
    iretd
.int_exit:
    inc dword [int_gp]
    mov eax, [esp + 8]
    mov [int_gp_code], eax
    jmp back_in_pm

; ---- v86 code (16-bit, CS = F000) -------------------------------------------------------------
bits 16
v86_code:
    mov word [0], 0x1234                   ; DS = 0x0400: linear 0x4000
    mov ax, 0x55AA
    int 0x30
    mov [2], ax                            ; 0x1111 from the handler
    mov [4], ds
    cli                                    ; IOPL is 0 now: #GP(0), skipped by the handler
    pushf                                  ; #GP(0) as well
    int 0x31                               ; IOPL 0: #GP(0), which the handler turns into the exit
    hlt
bits 32

align 8
gdt:
    dq 0
    dq 0x00CF9B000000FFFF                  ; 0x08: ring-0 code
    dq 0x00CF93000000FFFF                  ; 0x10: ring-0 data
    dq 0x0000890030000067                  ; 0x18: 32-bit TSS at 0x3000
gdt_end:
GDT_LIMIT equ gdt_end - gdt - 1

%include "lib/pm32_support.inc"

    times 0xFFF0 - ($ - $$) db 0xFF
bits 16
reset:
    jmp 0xF000:(start - 0xF0000)
    times 0x10000 - ($ - $$) db 0xFF
