; pm_segments.asm - protected-mode segment loads and checks: GDT limit, type and privilege
; checks with exact #GP/#NP/#SS error codes, null selectors, expand-up/expand-down limits,
; read-only data, SS-relative #SS(0), LSS/POP DS atomicity, LAR/LSL/VERR/VERW. Prints PASS/FAIL
; lines on COM1; exits through port 0xF4 with 0 on success.
%include "lib/pm32_prologue.inc"
; ---- tests -----------------------------------------------------------------------------------
main:
    ; Selector outside the GDT limit.
    TRY
    mov ax, 0x68
    mov es, ax
    ENDTRY
    EXPECT 13, 0x68, "MOV ES beyond the GDT limit: #GP(selector)"
    TRY
    mov ax, 0x6B
    mov fs, ax
    ENDTRY
    EXPECT 13, 0x68, "... error code has the RPL bits cleared"
    TRY
    mov ax, 0x6C
    mov gs, ax
    ENDTRY
    EXPECT 13, 0x6C, "LDT selector with an empty LDT: #GP(selector)"
    ; Type checks for DS..GS.
    TRY
    mov ax, 0x30
    mov es, ax
    ENDTRY
    EXPECT 13, 0x30, "execute-only code into ES: #GP(selector)"
    TRY
    mov ax, 0x38
    mov es, ax
    ENDTRY
    NOFAULT "readable code into ES is allowed"
    TRY
    mov ax, 0x58
    mov ds, ax
    ENDTRY
    EXPECT 13, 0x58, "LDT descriptor into DS: #GP(selector)"
    TRY
    mov ax, 0x40
    mov es, ax
    ENDTRY
    EXPECT 11, 0x40, "not-present data segment: #NP(selector)"
    ; Accessed bit.
    mov byte [GDT_RAM + 0x18 + 5], 0x92
    TRY
    mov ax, 0x18
    mov es, ax
    ENDTRY
    cmp byte [GDT_RAM + 0x18 + 5], 0x93
    CHECK e, "a segment load sets the accessed bit"
    ; SS checks.
    TRY
    mov ax, 0x28
    mov ss, ax
    ENDTRY
    EXPECT 13, 0x28, "read-only data into SS: #GP(selector)"
    TRY
    xor eax, eax
    mov ss, ax
    ENDTRY
    EXPECT 13, 0, "null selector into SS: #GP(0)"
    TRY
    mov ax, 0x48
    mov ss, ax
    ENDTRY
    EXPECT 13, 0x48, "DPL3 data into SS at CPL0: #GP(selector)"
    TRY
    mov ax, 0x13
    mov ss, ax
    ENDTRY
    EXPECT 13, 0x10, "SS selector with RPL != CPL: #GP(selector)"
    TRY
    mov ax, 0x40
    mov ss, ax
    ENDTRY
    EXPECT 12, 0x40, "not-present SS: #SS(selector)"
    TRY
    mov ax, 0x30
    mov ss, ax
    ENDTRY
    EXPECT 13, 0x30, "code segment into SS: #GP(selector)"
    mov ax, ss
    cmp ax, 0x10
    CHECK e, "SS unchanged after the faulting loads"
    ; Null selectors: loading is fine, using is #GP(0).
    TRY
    xor eax, eax
    mov es, ax
    ENDTRY
    NOFAULT "null selector into ES"
    TRY
    mov eax, [es:0x1000]
    ENDTRY
    EXPECT 13, 0, "access through a null ES: #GP(0)"
    TRY
    mov [es:0x1000], eax
    ENDTRY
    EXPECT 13, 0, "write through a null ES: #GP(0)"
    ; Expand-up limit (0x18: base 0x10000, limit 0xFFF).
    mov ax, 0x18
    mov es, ax
    TRY
    mov eax, [es:0xFFC]
    ENDTRY
    NOFAULT "dword at the last 4 bytes of the limit"
    TRY
    mov eax, [es:0xFFD]
    ENDTRY
    EXPECT 13, 0, "dword straddling the limit: #GP(0)"
    TRY
    mov al, [es:0x1000]
    ENDTRY
    EXPECT 13, 0, "byte beyond the limit: #GP(0)"
    mov dword [0x10010], 0x12345678
    mov eax, [es:0x10]
    cmp eax, 0x12345678
    CHECK e, "segment base applied"
    ; Expand-down, 32-bit (0x20: base 0x20000, limit 0xFFF: valid 0x1000..0xFFFFFFFF).
    mov ax, 0x20
    mov fs, ax
    TRY
    mov eax, [fs:0xFFF]
    ENDTRY
    EXPECT 13, 0, "expand-down: offset at the limit faults"
    TRY
    mov eax, [fs:0xFFE]
    ENDTRY
    EXPECT 13, 0, "expand-down: dword below the limit faults"
    TRY
    mov eax, [fs:0x1000]
    ENDTRY
    NOFAULT "expand-down: limit + 1 is valid"
    TRY
    mov eax, [fs:0xFFFFFFFC]
    ENDTRY
    NOFAULT "expand-down: top of the 4 GiB range is valid"
    ; Expand-down, 16-bit (0x50: base 0x30000, limit 0xFFF: valid 0x1000..0xFFFF).
    mov ax, 0x50
    mov gs, ax
    TRY
    mov ax, [gs:0xFFFE]
    ENDTRY
    NOFAULT "16-bit expand-down: word at 0xFFFE"
    TRY
    mov eax, [gs:0xFFFE]
    ENDTRY
    EXPECT 13, 0, "16-bit expand-down: dword past 0xFFFF faults"
    TRY
    mov eax, [gs:0x10000]
    ENDTRY
    EXPECT 13, 0, "16-bit expand-down: offset above 0xFFFF faults"
    ; Read-only data and code segments.
    mov ax, 0x28
    mov es, ax
    TRY
    mov eax, [es:0x9000]
    ENDTRY
    NOFAULT "read from a read-only data segment"
    TRY
    mov [es:0x9000], eax
    ENDTRY
    EXPECT 13, 0, "write to a read-only data segment: #GP(0)"
    mov ax, 0x38
    mov es, ax
    TRY
    mov eax, [es:0x9000]
    ENDTRY
    NOFAULT "read through a readable code segment"
    TRY
    mov [es:0x9000], eax
    ENDTRY
    EXPECT 13, 0, "write through a code segment: #GP(0)"
    TRY
    mov [cs:0x9000], eax
    ENDTRY
    EXPECT 13, 0, "write through CS: #GP(0)"
    ; SS-relative accesses beyond the stack limit: #SS(0) (0x60: base 0, limit 0x7FFF).
    mov ax, 0x60
    mov ss, ax
    mov ebp, 0x8000
    TRY
    mov eax, [ebp]
    ENDTRY
    EXPECT 12, 0, "SS-relative read beyond the limit: #SS(0)"
    TRY
    mov eax, [ebp - 4]
    ENDTRY
    NOFAULT "SS-relative read inside the limit"
    TRY
    mov eax, [ds:ebp]
    ENDTRY
    NOFAULT "DS override on an EBP address uses DS"
    mov ax, 0x10
    mov ss, ax
    ; LSS with a bad SS does not change ESP.
    mov dword [scratch], 0x1234
    mov word [scratch + 4], 0x28
    mov ebx, esp
    TRY
    lss esp, [scratch]
    ENDTRY
    EXPECT 13, 0x28, "LSS with a read-only SS: #GP(selector)"
    cmp esp, ebx
    CHECK e, "... ESP unchanged"
    ; POP DS with a bad selector leaves ESP unchanged.
    push dword 0x30
    mov ebx, esp
    TRY
    pop ds
    ENDTRY
    EXPECT 13, 0x30, "POP DS with an execute-only code selector: #GP(selector)"
    cmp esp, ebx
    CHECK e, "... ESP unchanged"
    add esp, 4
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov fs, ax
    mov gs, ax
    ; LAR / LSL / VERR / VERW at CPL 0.
    mov ax, 0x18
    lsl eax, ax
    CHECK z, "LSL sets ZF for a data segment"
    cmp eax, 0xFFF
    CHECK e, "LSL returns the byte limit"
    mov ax, 0x08
    lsl eax, ax
    cmp eax, 0xFFFFFFFF
    CHECK e, "LSL scales a page-granular limit"
    mov ax, 0x28
    lar eax, ax
    CHECK z, "LAR sets ZF"
    and eax, 0x00F0FF00
    cmp eax, 0x00C09100
    CHECK e, "LAR returns the access rights"
    mov ax, 0x68
    lar eax, ax
    CHECK nz, "LAR beyond the GDT limit clears ZF"
    xor eax, eax
    lsl eax, ax
    CHECK nz, "LSL of the null selector clears ZF"
    mov ax, 0x30
    verr ax
    CHECK nz, "VERR of execute-only code clears ZF"
    mov ax, 0x38
    verr ax
    CHECK z, "VERR of readable code sets ZF"
    mov ax, 0x28
    verw ax
    CHECK nz, "VERW of read-only data clears ZF"
    mov ax, 0x10
    verw ax
    CHECK z, "VERW of writable data sets ZF"
    jmp finish

align 8
gdt:
    dq 0
    dq 0x00CF9B000000FFFF                  ; 0x08: flat 32-bit code
    dq 0x00CF93000000FFFF                  ; 0x10: flat data
    dq 0x0040930100000FFF                  ; 0x18: data, base 0x10000, limit 0xFFF
    dq 0x0040960200000FFF                  ; 0x20: expand-down data, base 0x20000, limit 0xFFF, B=1
    dq 0x00CF90000000FFFF                  ; 0x28: read-only data
    dq 0x00CF98000000FFFF                  ; 0x30: execute-only code
    dq 0x00CF9B000000FFFF                  ; 0x38: readable code
    dq 0x00CF12000000FFFF                  ; 0x40: data, not present
    dq 0x00CFF3000000FFFF                  ; 0x48: DPL3 data
    dq 0x0000960300000FFF                  ; 0x50: 16-bit expand-down, base 0x30000, limit 0xFFF
    dq 0x000082004000000F                  ; 0x58: LDT descriptor
    dq 0x0040930000007FFF                  ; 0x60: data, base 0, limit 0x7FFF
gdt_end:
GDT_LIMIT equ 0x67

%include "lib/pm32_support.inc"

    times 0xFFF0 - ($ - $$) db 0xFF
bits 16
reset:
    jmp 0xF000:(start - 0xF0000)
    times 0x10000 - ($ - $$) db 0xFF
