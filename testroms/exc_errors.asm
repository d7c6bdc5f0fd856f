; exc_errors.asm - exception vectors and error codes in protected mode: #DE/#UD/#BR faults (EIP
; of the instruction), #BP/#OF/INT1 traps, #GP/#NP/#SS/#TS error codes, IDT limit and not-present
; gates (vector * 8 + 2, EXT bit), bad handler CS, #DF for a fault during delivery, the error code
; position in the frame. Prints PASS/FAIL lines on COM1; exits through port 0xF4 with 0 on success.
%include "lib/pm32_prologue.inc"
TSS_A      equ 0x3000
TSS_B      equ 0x3100
idt_small:
    dw 0x90 * 8 - 1
    dd IDT
bound_range:
    dd 10, 20

; ---- tests -----------------------------------------------------------------------------------
main:
    ; Faults: vector, no error code, EIP of the faulting instruction.
    TRY
    xor edx, edx
    mov eax, 1
    xor ecx, ecx
de_at:
    div ecx
    ENDTRY
    EXPECT 0, NOCODE, "DIV by zero: #DE, no error code"
    cmp dword [exc_eip], de_at
    CHECK e, "#DE: saved EIP is the faulting DIV"
    TRY
ud_at:
    ud2
    ENDTRY
    EXPECT 6, NOCODE, "UD2: #UD"
    cmp dword [exc_eip], ud_at
    CHECK e, "#UD: saved EIP is the UD2"
    TRY
    mov eax, 30
    bound eax, [bound_range]
    ENDTRY
    EXPECT 5, NOCODE, "BOUND out of range: #BR"
    TRY
    mov eax, 15
    bound eax, [bound_range]
    ENDTRY
    NOFAULT "BOUND in range: no exception"
    ; Traps: EIP after the instruction.
    TRY
    int3
bp_after:
    ENDTRY
    EXPECT 3, NOCODE, "INT3: #BP"
    cmp dword [exc_eip], bp_after
    CHECK e, "#BP: saved EIP follows INT3"
    TRY
    mov al, 0x7F
    add al, 1
    into
    ENDTRY
    EXPECT 4, NOCODE, "INTO with OF set: #OF"
    TRY
    db 0xF1                                ; INT1 (ICEBP)
    ENDTRY
    EXPECT 1, NOCODE, "INT1: #DB"

    ; #GP / #NP / #SS / #TS with error codes.
    TRY
    mov ax, 0x68
    mov es, ax
    ENDTRY
    EXPECT 13, 0x68, "#GP(selector) for a selector beyond the GDT limit"
    TRY
    mov ax, 0x40
    mov es, ax
    ENDTRY
    EXPECT 11, 0x40, "#NP(selector) for a not-present data segment"
    TRY
    mov ax, 0x48
    mov ss, ax
    ENDTRY
    EXPECT 12, 0x48, "#SS(selector) for a not-present stack segment"
    TRY
    jmp 0x30:0
    ENDTRY
    EXPECT 10, 0x30, "#TS(selector) for a TSS with a limit below 0x67"
    ; IDT limit: INT n beyond it is #GP(vector * 8 + 2).
    lidt [idt_small]
    TRY
    int 0x90
    ENDTRY
    lidt [idt_desc]
    EXPECT 13, 0x482, "INT 0x90 beyond the IDT limit: #GP(0x482)"
    ; Not-present gate.
    mov eax, 0x50
    mov ebx, unexpected
    mov ecx, 0x08 | (0x0E << 16)           ; P = 0
    call set_gate
    TRY
    int 0x50
    ENDTRY
    EXPECT 11, 0x282, "INT to a not-present gate: #NP(vector * 8 + 2)"
    ; The same for an exception sets EXT: #UD through a not-present gate is #NP(6 * 8 + 3).
    mov eax, 6
    mov ebx, stubs + 6 * 10
    mov ecx, 0x08 | (0x0E << 16)
    call set_gate
    TRY
    ud2
    ENDTRY
    EXPECT 11, 0x33, "#UD through a not-present gate: #NP(0x33) with EXT"
    ; Null code selector in the gate: #GP(EXT).
    mov eax, 6
    mov ebx, stubs + 6 * 10
    mov ecx, 0x00 | (0x8E << 16)
    call set_gate
    TRY
    ud2
    ENDTRY
    EXPECT 13, 1, "#UD through a gate with a null CS: #GP(1)"
    mov eax, 3
    mov ebx, stubs + 3 * 10
    mov ecx, 0x00 | (0x8E << 16)
    call set_gate
    TRY
    int3
    ENDTRY
    EXPECT 13, 0, "INT3 through a gate with a null CS: #GP(0), EXT clear"
    mov eax, 6
    mov ebx, stubs + 6 * 10
    mov ecx, 0x40 | (0x8E << 16)           ; handler CS not present
    call set_gate
    TRY
    ud2
    ENDTRY
    EXPECT 11, 0x41, "#UD with a not-present handler CS: #NP(selector + EXT)"
    mov eax, 6
    mov ebx, stubs + 6 * 10
    mov ecx, 0x10 | (0x8E << 16)           ; handler "CS" is a data segment
    call set_gate
    TRY
    ud2
    ENDTRY
    EXPECT 13, 0x11, "#UD with a data segment as handler CS: #GP(selector + EXT)"
    mov eax, 6
    mov ebx, stubs + 6 * 10
    mov ecx, 0x08 | (0x8E << 16)
    call set_gate
    mov eax, 3
    mov ebx, stubs + 3 * 10
    mov ecx, 0x08 | (0x8E << 16)
    call set_gate

    ; #DF: a #GP whose delivery raises #NP (both contributory).
    mov eax, 13
    mov ebx, stubs + 13 * 10
    mov ecx, 0x08 | (0x0E << 16)           ; #GP gate not present
    call set_gate
    TRY
df_at:
    mov ax, 0x68
    mov es, ax
    ENDTRY
    EXPECT 8, 0, "#GP during #GP delivery: #DF(0)"
    mov eax, 13
    mov ebx, stubs + 13 * 10
    mov ecx, 0x08 | (0x8E << 16)
    call set_gate
    ; #DE whose gate is not present -> #NP during delivery -> #DF.
    mov eax, 0
    mov ebx, stubs
    mov ecx, 0x08 | (0x0E << 16)
    call set_gate
    TRY
    xor edx, edx
    xor ecx, ecx
    div ecx
    ENDTRY
    EXPECT 8, 0, "#NP during #DE delivery: #DF(0)"
    mov eax, 0
    mov ebx, stubs
    mov ecx, 0x08 | (0x8E << 16)
    call set_gate

    ; IRET with NT = 1 to a TSS that is not busy: #TS(back link).
    mov dword [TSS_A + 0], 0x28            ; back link -> available TSS B
    mov ax, 0x20
    ltr ax
    TRY
    pushfd
    or dword [esp], 0x4000
    popfd
    iretd
    ENDTRY
    pushfd
    and dword [esp], ~0x4000
    popfd
    EXPECT 10, 0x28, "IRET with NT to an available TSS: #TS(back link)"
    ; Error code on the stack: the #GP frame holds it below EIP.
    mov eax, 13
    mov ebx, gp_peek
    mov ecx, 0x08 | (0x8E << 16)
    call set_gate
    mov dword [scratch], 0
    TRY
    mov ax, 0x3B
    mov ds, ax
    ENDTRY
    cmp dword [scratch], 0x38
    CHECK e, "#GP pushes its error code below the return EIP"
    cmp dword [scratch + 4], 0x08
    CHECK e, "... and CS above EIP"
    jmp finish

gp_peek:
    mov eax, [esp]
    mov [scratch], eax
    mov eax, [esp + 8]
    mov [scratch + 4], eax
    add esp, 4
    mov eax, [recover]
    mov [esp], eax
    iretd

align 8
gdt:
    dq 0
    dq 0x00CF9B000000FFFF                  ; 0x08: flat code
    dq 0x00CF93000000FFFF                  ; 0x10: flat data
    dq 0x00CF93000000FFFF                  ; 0x18: flat data
    dq 0x0000890030000067                  ; 0x20: TSS A (0x3000)
    dq 0x0000890031000067                  ; 0x28: TSS B (0x3100)
    dq 0x0000890032000050                  ; 0x30: TSS with a too-small limit
    dq 0x00CF98000000FFFF                  ; 0x38: execute-only code
    dq 0x00CF1A000000FFFF                  ; 0x40: code, not present
    dq 0x00CF12000000FFFF                  ; 0x48: data, not present
gdt_end:
GDT_LIMIT equ 0x67

%include "lib/pm32_support.inc"

    times 0xFFF0 - ($ - $$) db 0xFF
bits 16
reset:
    jmp 0xF000:(start - 0xF0000)
    times 0x10000 - ($ - $$) db 0xFF
