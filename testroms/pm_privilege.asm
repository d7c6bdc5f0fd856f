; pm_privilege.asm - privilege transitions: LTR, ring 0 -> 3 through IRET (data segment nulling),
; a DPL 3 call gate with parameter copy and RETF n back, INT to DPL 3 interrupt/trap gates from
; ring 3, #GP on a DPL 0 gate / call gate / privileged instruction, conforming code, LAR/VERR/ARPL
; from ring 3. Prints PASS/FAIL lines on COM1; exits through port 0xF4 with 0 on success.
%include "lib/pm32_prologue.inc"
TSS        equ 0x3000
USTACK     equ 0x6000
g_cs       equ VARS + 0x80
g_ss       equ VARS + 0x84
g_esp      equ VARS + 0x88
g_p1       equ VARS + 0x8C
g_p2       equ VARS + 0x90
g_retcs    equ VARS + 0x94
g_oldesp   equ VARS + 0x98
g_oldss    equ VARS + 0x9C
i_cs       equ VARS + 0xA0
i_esp      equ VARS + 0xA4
i_retcs    equ VARS + 0xA8
i_flags    equ VARS + 0xAC
i_oldesp   equ VARS + 0xB0
i_oldss    equ VARS + 0xB4
i_curflags equ VARS + 0xB8
c_cs       equ VARS + 0xBC

; ---- tests -----------------------------------------------------------------------------------
main:
    mov dword [TSS + 4], KSTACK            ; ESP0
    mov dword [TSS + 8], 0x10              ; SS0
    mov word [TSS + 102], 104
    mov ax, 0x28
    ltr ax
    str ax
    cmp ax, 0x28
    CHECK e, "STR returns the selector loaded by LTR"
    cmp byte [GDT_RAM + 0x28 + 5], 0x8B
    CHECK e, "LTR marks the TSS busy"
    TRY
    mov ax, 0x28
    ltr ax
    ENDTRY
    EXPECT 13, 0x28, "LTR of a busy TSS: #GP(selector)"
    TRY
    mov ax, 0x10
    ltr ax
    ENDTRY
    EXPECT 13, 0x10, "LTR of a data segment: #GP(selector)"

    ; IDT: 0x40 DPL3 interrupt gate, 0x41 DPL0 gate, 0x42 DPL3 (finish), 0x43 DPL3 trap gate.
    mov eax, 0x40
    mov ebx, int40
    mov ecx, 0x08 | (0xEE << 16)
    call set_gate
    mov eax, 0x41
    mov ebx, unexpected
    mov ecx, 0x08 | (0x8E << 16)
    call set_gate
    mov eax, 0x42
    mov ebx, int42
    mov ecx, 0x08 | (0xEE << 16)
    call set_gate
    mov eax, 0x43
    mov ebx, int40
    mov ecx, 0x08 | (0xEF << 16)
    call set_gate

    ; IRET to ring 3 with an SS whose RPL differs from the new CPL: #GP(SS selector).
    TRY
    push dword 0x20
    push dword USTACK
    push dword 0x3202
    push dword 0x1B
    push dword unexpected
    iretd
    ENDTRY
    mov esp, KSTACK
    EXPECT 13, 0x20, "IRET to ring 3 with SS.RPL != 3: #GP(SS selector)"

    ; Ring 0 -> ring 3 through IRET (IOPL 3, IF set).
    push dword 0x23
    push dword USTACK
    push dword 0x3202
    push dword 0x1B
    push dword ring3
    iretd

ring3:
    mov ebx, ds
    mov ecx, cs
    mov edx, ss
    mov ax, 0x23
    mov ds, ax
    mov es, ax
    cmp bx, 0
    CHECK e, "IRET to ring 3 nulls DS (DPL 0 data)"
    cmp cx, 0x1B
    CHECK e, "IRET to ring 3 loads CS"
    cmp dx, 0x23
    CHECK e, "IRET to ring 3 loads SS"
    cmp esp, USTACK
    CHECK e, "IRET to ring 3 loads ESP"

    ; Call gate (DPL 3, 2 parameters) to ring 0.
    push dword 0x11111111
    push dword 0x22222222
    call 0x33:0
    mov ebx, es
    mov ax, 0x23
    mov es, ax
    cmp esp, USTACK
    CHECK e, "RETF 8 to ring 3 releases the parameters on the outer stack"
    cmp bx, 0
    CHECK e, "RETF to ring 3 nulls ES loaded with a DPL 0 selector"
    cmp dword [g_cs], 0x08
    CHECK e, "call gate: CS = gate selector with RPL 0"
    cmp dword [g_ss], 0x10
    CHECK e, "call gate: SS from TSS.SS0"
    cmp dword [g_esp], KSTACK - 24
    CHECK e, "call gate: ESP = TSS.ESP0 - 24 (SS, ESP, 2 params, CS, EIP)"
    cmp dword [g_p1], 0x22222222
    CHECK e, "call gate: parameter 1 copied"
    cmp dword [g_p2], 0x11111111
    CHECK e, "call gate: parameter 2 copied"
    cmp dword [g_retcs], 0x1B
    CHECK e, "call gate: caller CS pushed"
    cmp dword [g_oldesp], USTACK - 8
    CHECK e, "call gate: caller ESP pushed"
    cmp dword [g_oldss], 0x23
    CHECK e, "call gate: caller SS pushed"

    ; INT n to a DPL 3 interrupt gate.
    int 0x40
    cmp dword [i_cs], 0x08
    CHECK e, "INT 0x40 from ring 3 runs the handler in ring 0"
    cmp dword [i_esp], KSTACK - 20
    CHECK e, "INT from ring 3: frame of 5 dwords on the ring-0 stack"
    cmp dword [i_retcs], 0x1B
    CHECK e, "INT frame: CS"
    cmp dword [i_oldss], 0x23
    CHECK e, "INT frame: SS"
    cmp dword [i_oldesp], USTACK
    CHECK e, "INT frame: ESP"
    test dword [i_flags], 0x200
    CHECK nz, "INT frame: EFLAGS with IF set"
    test dword [i_curflags], 0x200
    CHECK z, "interrupt gate clears IF"
    int 0x43
    test dword [i_curflags], 0x200
    CHECK nz, "trap gate leaves IF set"
    pushfd
    pop eax
    test eax, 0x200
    CHECK nz, "IRET restores IF in ring 3 (CPL <= IOPL)"

    ; Faults from ring 3.
    TRY
    int 0x41
    ENDTRY
    EXPECT 13, 0x20A, "INT to a DPL 0 gate from ring 3: #GP(vector * 8 + 2)"
    TRY
    call 0x3B:0
    ENDTRY
    EXPECT 13, 0x38, "call through a DPL 0 call gate from ring 3: #GP(gate selector)"
    TRY
    hlt
    ENDTRY
    EXPECT 13, 0, "HLT in ring 3: #GP(0)"
    TRY
    mov ax, 0x10
    mov ds, ax
    ENDTRY
    EXPECT 13, 0x10, "DPL 0 data into DS from ring 3: #GP(selector)"
    TRY
    jmp 0x08:unexpected
    ENDTRY
    EXPECT 13, 0x08, "far JMP to ring 0 code from ring 3: #GP(selector)"
    TRY
    mov ax, 0x20
    mov ss, ax
    ENDTRY
    EXPECT 13, 0x20, "SS with RPL 0 at CPL 3: #GP(selector)"
    mov eax, esp
    cmp eax, USTACK
    CHECK e, "ring-3 ESP unchanged after faults handled in ring 0"

    ; Conforming code runs at the caller's CPL.
    call 0x40:conforming
    cmp dword [c_cs], 0x43
    CHECK e, "far call to conforming code keeps CPL 3 (CS.RPL = 3)"

    ; Descriptor instructions in ring 3.
    mov ax, 0x10
    lar eax, ax
    CHECK nz, "LAR of a DPL 0 data segment from ring 3 clears ZF"
    mov ax, 0x23
    lar eax, ax
    CHECK z, "LAR of a DPL 3 data segment sets ZF"
    mov ax, 0x10
    verr ax
    CHECK nz, "VERR of DPL 0 data from ring 3 clears ZF"
    mov ax, 0x40
    verr ax
    CHECK z, "VERR of conforming readable code ignores DPL"
    mov ax, 0x10
    mov bx, 0x23
    arpl ax, bx
    CHECK z, "ARPL raises a lower RPL (ZF = 1)"
    cmp ax, 0x13
    CHECK e, "... to the source RPL"
    arpl ax, bx
    CHECK nz, "ARPL leaves an equal RPL (ZF = 0)"
    str ax
    cmp ax, 0x28
    CHECK e, "STR works in ring 3"

    int 0x42                               ; back to ring 0 for good

int42:
    mov eax, cs
    cmp eax, 0x08
    CHECK e, "INT 0x42 returns to ring 0"
    jmp finish

gate_target:                               ; ring 0, reached through the call gate
    mov eax, cs
    mov [g_cs], eax
    mov eax, ss
    mov [g_ss], eax
    mov [g_esp], esp
    mov eax, [esp + 8]
    mov [g_p1], eax
    mov eax, [esp + 12]
    mov [g_p2], eax
    mov eax, [esp + 4]
    mov [g_retcs], eax
    mov eax, [esp + 16]
    mov [g_oldesp], eax
    mov eax, [esp + 20]
    mov [g_oldss], eax
    mov ax, 0x10
    mov es, ax
    retf 8

int40:
    push eax
    mov eax, cs
    mov [i_cs], eax
    lea eax, [esp + 4]
    mov [i_esp], eax
    mov eax, [esp + 8]
    mov [i_retcs], eax
    mov eax, [esp + 12]
    mov [i_flags], eax
    mov eax, [esp + 16]
    mov [i_oldesp], eax
    mov eax, [esp + 20]
    mov [i_oldss], eax
    pushfd
    pop eax
    mov [i_curflags], eax
    pop eax
    iretd

conforming:
    mov eax, cs
    mov [c_cs], eax
    retf

%define ABS(l) (l - $$ + 0xF0000)
%macro CALLGATE 4                          ; offset, selector, params, access
    dq (ABS(%1) & 0xFFFF) | (%2 << 16) | (%3 << 32) | (%4 << 40) | ((ABS(%1) >> 16) << 48)
%endmacro

align 8
gdt:
    dq 0
    dq 0x00CF9B000000FFFF                  ; 0x08: ring-0 code
    dq 0x00CF93000000FFFF                  ; 0x10: ring-0 data
    dq 0x00CFFB000000FFFF                  ; 0x18: ring-3 code
    dq 0x00CFF3000000FFFF                  ; 0x20: ring-3 data
    dq 0x0000890030000067                  ; 0x28: 32-bit TSS at 0x3000
    CALLGATE gate_target, 0x08, 2, 0xEC    ; 0x30: DPL 3 call gate, 2 parameters
    CALLGATE gate_target, 0x08, 0, 0x8C    ; 0x38: DPL 0 call gate
    dq 0x00CF9E000000FFFF                  ; 0x40: DPL 0 conforming readable code
gdt_end:
GDT_LIMIT equ gdt_end - gdt - 1

%include "lib/pm32_support.inc"

    times 0xFFF0 - ($ - $$) db 0xFF
bits 16
reset:
    jmp 0xF000:(start - 0xF0000)
    times 0x10000 - ($ - $$) db 0xFF
