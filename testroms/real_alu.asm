; real_alu.asm - real-mode integer ALU: ADD/ADC/SUB/SBB/CMP/AND/OR/XOR and INC/DEC/NEG/NOT
; (8/16/32-bit, result and OSZAPC flags), MUL/IMUL/DIV/IDIV incl. #DE through the IVT, shifts and
; rotates (counts 0, 1, n, > width, masked), SHLD/SHRD, BT/BTS/BTR/BTC (register, immediate and
; memory bit strings), BSF/BSR, DAA/DAS/AAA/AAS/AAM/AAD, CBW/CWDE/CWD/CDQ, SETcc/CMOVcc,
; XADD/CMPXCHG/CMPXCHG8B, BSWAP, MOVZX/MOVSX, LEA wrap, 32-bit operands/addresses in real mode.
; Expected values follow the Intel SDM; undefined flags are masked out. Also passes under QEMU.
; ALUn/UNn lines compare "result:flags" (8/16-bit: result << 16 | flags) in one value.
%include "lib/rom.inc"

VARS      equ 0x2000           ; RAM (ES = 0)
DE_COUNT  equ VARS + 0         ; word: #DE taken
DE_IP     equ VARS + 2         ; word: IP pushed by the last #DE
DE_CS     equ VARS + 4
RECOVER   equ VARS + 6         ; word: where the #DE handler resumes
MEM       equ VARS + 0x10      ; 16 bytes of operand memory

OSZAPC    equ 0x8D5
OSZPC     equ 0x8C5

%macro SETCF 1
%if %1
    stc
%else
    clc
%endif
%endmacro

; ALUn op, a, b, cf_in, result, flags, flag_mask, "name"
%macro ALU8 8
    mov al, %2
    mov bl, %3
    SETCF %4
    %1 al, bl
    pushf
    pop dx
    and dx, %7
    movzx ecx, al
    shl ecx, 16
    mov cx, dx
    EXPECT32 ecx, ((%5) << 16) | ((%6) & (%7)), %8
%endmacro
%macro ALU16 8
    mov ax, %2
    mov bx, %3
    SETCF %4
    %1 ax, bx
    pushf
    pop dx
    and dx, %7
    movzx ecx, ax
    shl ecx, 16
    mov cx, dx
    EXPECT32 ecx, ((%5) << 16) | ((%6) & (%7)), %8
%endmacro
%macro ALU32 8
    mov eax, %2
    mov ebx, %3
    SETCF %4
    %1 eax, ebx
    pushf
    pop dx
    and dx, %7
    EXPECT32 eax, %5, %8
    EXPECT16 dx, (%6) & (%7), {%8, " flags"}
%endmacro
; UNn op, a, cf_in, result, flags, flag_mask, "name"
%macro UN8 7
    mov al, %2
    SETCF %3
    %1 al
    pushf
    pop dx
    and dx, %6
    movzx ecx, al
    shl ecx, 16
    mov cx, dx
    EXPECT32 ecx, ((%4) << 16) | ((%5) & (%6)), %7
%endmacro
%macro UN16 7
    mov ax, %2
    SETCF %3
    %1 ax
    pushf
    pop dx
    and dx, %6
    movzx ecx, ax
    shl ecx, 16
    mov cx, dx
    EXPECT32 ecx, ((%4) << 16) | ((%5) & (%6)), %7
%endmacro
%macro UN32 7
    mov eax, %2
    SETCF %3
    %1 eax
    pushf
    pop dx
    and dx, %6
    EXPECT32 eax, %4, %7
    EXPECT16 dx, (%5) & (%6), {%7, " flags"}
%endmacro


; DE_TRY: the next instruction must raise #DE; the handler resumes at %%rec. Usage:
;   DE_TRY name_label / <faulting instruction> / DE_END "name"
%macro DE_TRY 0
    %push detry
    mov word [es:RECOVER], %$rec
    mov word [es:DE_COUNT], 0
    mov word [es:DE_IP], 0xFFFF
%$insn:
%endmacro
%macro DE_END 1
%$rec:
    EXPECT16 [es:DE_COUNT], 1, {%1, ": #DE taken"}
    EXPECT16 [es:DE_IP], %$insn, {%1, ": #DE return IP is the faulting instruction"}
    %pop
%endmacro

main:
    xor ax, ax
    mov es, ax
    mov word [es:0 * 4], de_handler
    mov word [es:0 * 4 + 2], cs
    PRINT "real_alu: 16-bit real mode ALU"

; ---- ADD/ADC/SUB/SBB/CMP/AND/OR/XOR and INC/DEC/NEG/NOT (generated from the SDM formulas) -----
    ALU8 add, 0x7f, 0x01, 0, 0x80, 0x890, 0x8d5, "add8 7f,1 cf0"
    ALU8 add, 0xff, 0x01, 1, 0x0, 0x055, 0x8d5, "add8 ff,1 cf1"
    ALU8 add, 0x00, 0x01, 0, 0x1, 0x000, 0x8d5, "add8 0,1 cf0"
    ALU8 add, 0x80, 0x80, 1, 0x0, 0x845, 0x8d5, "add8 80,80 cf1"
    ALU8 add, 0x0f, 0x01, 0, 0x10, 0x010, 0x8d5, "add8 f,1 cf0"
    ALU8 add, 0x12, 0x34, 1, 0x46, 0x000, 0x8d5, "add8 12,34 cf1"
    ALU8 add, 0x80, 0x01, 0, 0x81, 0x084, 0x8d5, "add8 80,1 cf0"
    ALU8 add, 0xfe, 0xff, 1, 0xfd, 0x091, 0x8d5, "add8 fe,ff cf1"
    ALU8 adc, 0x7f, 0x01, 0, 0x80, 0x890, 0x8d5, "adc8 7f,1 cf0"
    ALU8 adc, 0x7f, 0x01, 1, 0x81, 0x894, 0x8d5, "adc8 7f,1 cf1"
    ALU8 adc, 0xff, 0x01, 0, 0x0, 0x055, 0x8d5, "adc8 ff,1 cf0"
    ALU8 adc, 0xff, 0x01, 1, 0x1, 0x011, 0x8d5, "adc8 ff,1 cf1"
    ALU8 adc, 0x00, 0x01, 0, 0x1, 0x000, 0x8d5, "adc8 0,1 cf0"
    ALU8 adc, 0x00, 0x01, 1, 0x2, 0x000, 0x8d5, "adc8 0,1 cf1"
    ALU8 adc, 0x80, 0x80, 0, 0x0, 0x845, 0x8d5, "adc8 80,80 cf0"
    ALU8 adc, 0x80, 0x80, 1, 0x1, 0x801, 0x8d5, "adc8 80,80 cf1"
    ALU8 adc, 0x0f, 0x01, 0, 0x10, 0x010, 0x8d5, "adc8 f,1 cf0"
    ALU8 adc, 0x0f, 0x01, 1, 0x11, 0x014, 0x8d5, "adc8 f,1 cf1"
    ALU8 adc, 0x12, 0x34, 0, 0x46, 0x000, 0x8d5, "adc8 12,34 cf0"
    ALU8 adc, 0x12, 0x34, 1, 0x47, 0x004, 0x8d5, "adc8 12,34 cf1"
    ALU8 adc, 0x80, 0x01, 0, 0x81, 0x084, 0x8d5, "adc8 80,1 cf0"
    ALU8 adc, 0x80, 0x01, 1, 0x82, 0x084, 0x8d5, "adc8 80,1 cf1"
    ALU8 adc, 0xfe, 0xff, 0, 0xfd, 0x091, 0x8d5, "adc8 fe,ff cf0"
    ALU8 adc, 0xfe, 0xff, 1, 0xfe, 0x091, 0x8d5, "adc8 fe,ff cf1"
    ALU8 sub, 0x7f, 0x01, 0, 0x7e, 0x004, 0x8d5, "sub8 7f,1 cf0"
    ALU8 sub, 0xff, 0x01, 1, 0xfe, 0x080, 0x8d5, "sub8 ff,1 cf1"
    ALU8 sub, 0x00, 0x01, 0, 0xff, 0x095, 0x8d5, "sub8 0,1 cf0"
    ALU8 sub, 0x80, 0x80, 1, 0x0, 0x044, 0x8d5, "sub8 80,80 cf1"
    ALU8 sub, 0x0f, 0x01, 0, 0xe, 0x000, 0x8d5, "sub8 f,1 cf0"
    ALU8 sub, 0x12, 0x34, 1, 0xde, 0x095, 0x8d5, "sub8 12,34 cf1"
    ALU8 sub, 0x80, 0x01, 0, 0x7f, 0x810, 0x8d5, "sub8 80,1 cf0"
    ALU8 sub, 0xfe, 0xff, 1, 0xff, 0x095, 0x8d5, "sub8 fe,ff cf1"
    ALU8 sbb, 0x7f, 0x01, 0, 0x7e, 0x004, 0x8d5, "sbb8 7f,1 cf0"
    ALU8 sbb, 0x7f, 0x01, 1, 0x7d, 0x004, 0x8d5, "sbb8 7f,1 cf1"
    ALU8 sbb, 0xff, 0x01, 0, 0xfe, 0x080, 0x8d5, "sbb8 ff,1 cf0"
    ALU8 sbb, 0xff, 0x01, 1, 0xfd, 0x080, 0x8d5, "sbb8 ff,1 cf1"
    ALU8 sbb, 0x00, 0x01, 0, 0xff, 0x095, 0x8d5, "sbb8 0,1 cf0"
    ALU8 sbb, 0x00, 0x01, 1, 0xfe, 0x091, 0x8d5, "sbb8 0,1 cf1"
    ALU8 sbb, 0x80, 0x80, 0, 0x0, 0x044, 0x8d5, "sbb8 80,80 cf0"
    ALU8 sbb, 0x80, 0x80, 1, 0xff, 0x095, 0x8d5, "sbb8 80,80 cf1"
    ALU8 sbb, 0x0f, 0x01, 0, 0xe, 0x000, 0x8d5, "sbb8 f,1 cf0"
    ALU8 sbb, 0x0f, 0x01, 1, 0xd, 0x000, 0x8d5, "sbb8 f,1 cf1"
    ALU8 sbb, 0x12, 0x34, 0, 0xde, 0x095, 0x8d5, "sbb8 12,34 cf0"
    ALU8 sbb, 0x12, 0x34, 1, 0xdd, 0x095, 0x8d5, "sbb8 12,34 cf1"
    ALU8 sbb, 0x80, 0x01, 0, 0x7f, 0x810, 0x8d5, "sbb8 80,1 cf0"
    ALU8 sbb, 0x80, 0x01, 1, 0x7e, 0x814, 0x8d5, "sbb8 80,1 cf1"
    ALU8 sbb, 0xfe, 0xff, 0, 0xff, 0x095, 0x8d5, "sbb8 fe,ff cf0"
    ALU8 sbb, 0xfe, 0xff, 1, 0xfe, 0x091, 0x8d5, "sbb8 fe,ff cf1"
    ALU8 cmp, 0x7f, 0x01, 0, 0x7f, 0x004, 0x8d5, "cmp8 7f,1 cf0"
    ALU8 cmp, 0xff, 0x01, 1, 0xff, 0x080, 0x8d5, "cmp8 ff,1 cf1"
    ALU8 cmp, 0x00, 0x01, 0, 0x0, 0x095, 0x8d5, "cmp8 0,1 cf0"
    ALU8 cmp, 0x80, 0x80, 1, 0x80, 0x044, 0x8d5, "cmp8 80,80 cf1"
    ALU8 cmp, 0x0f, 0x01, 0, 0xf, 0x000, 0x8d5, "cmp8 f,1 cf0"
    ALU8 cmp, 0x12, 0x34, 1, 0x12, 0x095, 0x8d5, "cmp8 12,34 cf1"
    ALU8 cmp, 0x80, 0x01, 0, 0x80, 0x810, 0x8d5, "cmp8 80,1 cf0"
    ALU8 cmp, 0xfe, 0xff, 1, 0xfe, 0x095, 0x8d5, "cmp8 fe,ff cf1"
    ALU8 and, 0x7f, 0x01, 0, 0x1, 0x000, 0x8c5, "and8 7f,1 cf0"
    ALU8 and, 0xff, 0x01, 1, 0x1, 0x000, 0x8c5, "and8 ff,1 cf1"
    ALU8 and, 0x00, 0x01, 0, 0x0, 0x044, 0x8c5, "and8 0,1 cf0"
    ALU8 and, 0x80, 0x80, 1, 0x80, 0x080, 0x8c5, "and8 80,80 cf1"
    ALU8 and, 0x0f, 0x01, 0, 0x1, 0x000, 0x8c5, "and8 f,1 cf0"
    ALU8 and, 0x12, 0x34, 1, 0x10, 0x000, 0x8c5, "and8 12,34 cf1"
    ALU8 and, 0x80, 0x01, 0, 0x0, 0x044, 0x8c5, "and8 80,1 cf0"
    ALU8 and, 0xfe, 0xff, 1, 0xfe, 0x080, 0x8c5, "and8 fe,ff cf1"
    ALU8 or, 0x7f, 0x01, 0, 0x7f, 0x000, 0x8c5, "or8 7f,1 cf0"
    ALU8 or, 0xff, 0x01, 1, 0xff, 0x084, 0x8c5, "or8 ff,1 cf1"
    ALU8 or, 0x00, 0x01, 0, 0x1, 0x000, 0x8c5, "or8 0,1 cf0"
    ALU8 or, 0x80, 0x80, 1, 0x80, 0x080, 0x8c5, "or8 80,80 cf1"
    ALU8 or, 0x0f, 0x01, 0, 0xf, 0x004, 0x8c5, "or8 f,1 cf0"
    ALU8 or, 0x12, 0x34, 1, 0x36, 0x004, 0x8c5, "or8 12,34 cf1"
    ALU8 or, 0x80, 0x01, 0, 0x81, 0x084, 0x8c5, "or8 80,1 cf0"
    ALU8 or, 0xfe, 0xff, 1, 0xff, 0x084, 0x8c5, "or8 fe,ff cf1"
    ALU8 xor, 0x7f, 0x01, 0, 0x7e, 0x004, 0x8c5, "xor8 7f,1 cf0"
    ALU8 xor, 0xff, 0x01, 1, 0xfe, 0x080, 0x8c5, "xor8 ff,1 cf1"
    ALU8 xor, 0x00, 0x01, 0, 0x1, 0x000, 0x8c5, "xor8 0,1 cf0"
    ALU8 xor, 0x80, 0x80, 1, 0x0, 0x044, 0x8c5, "xor8 80,80 cf1"
    ALU8 xor, 0x0f, 0x01, 0, 0xe, 0x000, 0x8c5, "xor8 f,1 cf0"
    ALU8 xor, 0x12, 0x34, 1, 0x26, 0x000, 0x8c5, "xor8 12,34 cf1"
    ALU8 xor, 0x80, 0x01, 0, 0x81, 0x084, 0x8c5, "xor8 80,1 cf0"
    ALU8 xor, 0xfe, 0xff, 1, 0x1, 0x000, 0x8c5, "xor8 fe,ff cf1"
    ALU16 add, 0x7fff, 0x0001, 0, 0x8000, 0x894, 0x8d5, "add16 7fff,1 cf0"
    ALU16 add, 0xffff, 0x0001, 1, 0x0, 0x055, 0x8d5, "add16 ffff,1 cf1"
    ALU16 add, 0x0000, 0x0001, 0, 0x1, 0x000, 0x8d5, "add16 0,1 cf0"
    ALU16 add, 0x8000, 0x8000, 1, 0x0, 0x845, 0x8d5, "add16 8000,8000 cf1"
    ALU16 add, 0x1234, 0x0fff, 0, 0x2233, 0x014, 0x8d5, "add16 1234,fff cf0"
    ALU16 add, 0x00ff, 0x0001, 1, 0x100, 0x014, 0x8d5, "add16 ff,1 cf1"
    ALU16 adc, 0x7fff, 0x0001, 0, 0x8000, 0x894, 0x8d5, "adc16 7fff,1 cf0"
    ALU16 adc, 0x7fff, 0x0001, 1, 0x8001, 0x890, 0x8d5, "adc16 7fff,1 cf1"
    ALU16 adc, 0xffff, 0x0001, 0, 0x0, 0x055, 0x8d5, "adc16 ffff,1 cf0"
    ALU16 adc, 0xffff, 0x0001, 1, 0x1, 0x011, 0x8d5, "adc16 ffff,1 cf1"
    ALU16 adc, 0x0000, 0x0001, 0, 0x1, 0x000, 0x8d5, "adc16 0,1 cf0"
    ALU16 adc, 0x0000, 0x0001, 1, 0x2, 0x000, 0x8d5, "adc16 0,1 cf1"
    ALU16 adc, 0x8000, 0x8000, 0, 0x0, 0x845, 0x8d5, "adc16 8000,8000 cf0"
    ALU16 adc, 0x8000, 0x8000, 1, 0x1, 0x801, 0x8d5, "adc16 8000,8000 cf1"
    ALU16 adc, 0x1234, 0x0fff, 0, 0x2233, 0x014, 0x8d5, "adc16 1234,fff cf0"
    ALU16 adc, 0x1234, 0x0fff, 1, 0x2234, 0x010, 0x8d5, "adc16 1234,fff cf1"
    ALU16 adc, 0x00ff, 0x0001, 0, 0x100, 0x014, 0x8d5, "adc16 ff,1 cf0"
    ALU16 adc, 0x00ff, 0x0001, 1, 0x101, 0x010, 0x8d5, "adc16 ff,1 cf1"
    ALU16 sub, 0x7fff, 0x0001, 0, 0x7ffe, 0x000, 0x8d5, "sub16 7fff,1 cf0"
    ALU16 sub, 0xffff, 0x0001, 1, 0xfffe, 0x080, 0x8d5, "sub16 ffff,1 cf1"
    ALU16 sub, 0x0000, 0x0001, 0, 0xffff, 0x095, 0x8d5, "sub16 0,1 cf0"
    ALU16 sub, 0x8000, 0x8000, 1, 0x0, 0x044, 0x8d5, "sub16 8000,8000 cf1"
    ALU16 sub, 0x1234, 0x0fff, 0, 0x235, 0x014, 0x8d5, "sub16 1234,fff cf0"
    ALU16 sub, 0x00ff, 0x0001, 1, 0xfe, 0x000, 0x8d5, "sub16 ff,1 cf1"
    ALU16 sbb, 0x7fff, 0x0001, 0, 0x7ffe, 0x000, 0x8d5, "sbb16 7fff,1 cf0"
    ALU16 sbb, 0x7fff, 0x0001, 1, 0x7ffd, 0x000, 0x8d5, "sbb16 7fff,1 cf1"
    ALU16 sbb, 0xffff, 0x0001, 0, 0xfffe, 0x080, 0x8d5, "sbb16 ffff,1 cf0"
    ALU16 sbb, 0xffff, 0x0001, 1, 0xfffd, 0x080, 0x8d5, "sbb16 ffff,1 cf1"
    ALU16 sbb, 0x0000, 0x0001, 0, 0xffff, 0x095, 0x8d5, "sbb16 0,1 cf0"
    ALU16 sbb, 0x0000, 0x0001, 1, 0xfffe, 0x091, 0x8d5, "sbb16 0,1 cf1"
    ALU16 sbb, 0x8000, 0x8000, 0, 0x0, 0x044, 0x8d5, "sbb16 8000,8000 cf0"
    ALU16 sbb, 0x8000, 0x8000, 1, 0xffff, 0x095, 0x8d5, "sbb16 8000,8000 cf1"
    ALU16 sbb, 0x1234, 0x0fff, 0, 0x235, 0x014, 0x8d5, "sbb16 1234,fff cf0"
    ALU16 sbb, 0x1234, 0x0fff, 1, 0x234, 0x010, 0x8d5, "sbb16 1234,fff cf1"
    ALU16 sbb, 0x00ff, 0x0001, 0, 0xfe, 0x000, 0x8d5, "sbb16 ff,1 cf0"
    ALU16 sbb, 0x00ff, 0x0001, 1, 0xfd, 0x000, 0x8d5, "sbb16 ff,1 cf1"
    ALU16 cmp, 0x7fff, 0x0001, 0, 0x7fff, 0x000, 0x8d5, "cmp16 7fff,1 cf0"
    ALU16 cmp, 0xffff, 0x0001, 1, 0xffff, 0x080, 0x8d5, "cmp16 ffff,1 cf1"
    ALU16 cmp, 0x0000, 0x0001, 0, 0x0, 0x095, 0x8d5, "cmp16 0,1 cf0"
    ALU16 cmp, 0x8000, 0x8000, 1, 0x8000, 0x044, 0x8d5, "cmp16 8000,8000 cf1"
    ALU16 cmp, 0x1234, 0x0fff, 0, 0x1234, 0x014, 0x8d5, "cmp16 1234,fff cf0"
    ALU16 cmp, 0x00ff, 0x0001, 1, 0xff, 0x000, 0x8d5, "cmp16 ff,1 cf1"
    ALU16 and, 0x7fff, 0x0001, 0, 0x1, 0x000, 0x8c5, "and16 7fff,1 cf0"
    ALU16 and, 0xffff, 0x0001, 1, 0x1, 0x000, 0x8c5, "and16 ffff,1 cf1"
    ALU16 and, 0x0000, 0x0001, 0, 0x0, 0x044, 0x8c5, "and16 0,1 cf0"
    ALU16 and, 0x8000, 0x8000, 1, 0x8000, 0x084, 0x8c5, "and16 8000,8000 cf1"
    ALU16 and, 0x1234, 0x0fff, 0, 0x234, 0x000, 0x8c5, "and16 1234,fff cf0"
    ALU16 and, 0x00ff, 0x0001, 1, 0x1, 0x000, 0x8c5, "and16 ff,1 cf1"
    ALU16 or, 0x7fff, 0x0001, 0, 0x7fff, 0x004, 0x8c5, "or16 7fff,1 cf0"
    ALU16 or, 0xffff, 0x0001, 1, 0xffff, 0x084, 0x8c5, "or16 ffff,1 cf1"
    ALU16 or, 0x0000, 0x0001, 0, 0x1, 0x000, 0x8c5, "or16 0,1 cf0"
    ALU16 or, 0x8000, 0x8000, 1, 0x8000, 0x084, 0x8c5, "or16 8000,8000 cf1"
    ALU16 or, 0x1234, 0x0fff, 0, 0x1fff, 0x004, 0x8c5, "or16 1234,fff cf0"
    ALU16 or, 0x00ff, 0x0001, 1, 0xff, 0x004, 0x8c5, "or16 ff,1 cf1"
    ALU16 xor, 0x7fff, 0x0001, 0, 0x7ffe, 0x000, 0x8c5, "xor16 7fff,1 cf0"
    ALU16 xor, 0xffff, 0x0001, 1, 0xfffe, 0x080, 0x8c5, "xor16 ffff,1 cf1"
    ALU16 xor, 0x0000, 0x0001, 0, 0x1, 0x000, 0x8c5, "xor16 0,1 cf0"
    ALU16 xor, 0x8000, 0x8000, 1, 0x0, 0x044, 0x8c5, "xor16 8000,8000 cf1"
    ALU16 xor, 0x1234, 0x0fff, 0, 0x1dcb, 0x000, 0x8c5, "xor16 1234,fff cf0"
    ALU16 xor, 0x00ff, 0x0001, 1, 0xfe, 0x000, 0x8c5, "xor16 ff,1 cf1"
    ALU32 add, 0x7fffffff, 0x00000001, 0, 0x80000000, 0x894, 0x8d5, "add32 7fffffff,1 cf0"
    ALU32 add, 0xffffffff, 0x00000001, 1, 0x0, 0x055, 0x8d5, "add32 ffffffff,1 cf1"
    ALU32 add, 0x00000000, 0x00000001, 0, 0x1, 0x000, 0x8d5, "add32 0,1 cf0"
    ALU32 add, 0x80000000, 0x80000000, 1, 0x0, 0x845, 0x8d5, "add32 80000000,80000000 cf1"
    ALU32 add, 0x12345678, 0x0edcba98, 0, 0x21111110, 0x010, 0x8d5, "add32 12345678,edcba98 cf0"
    ALU32 add, 0xfffffff0, 0x00000010, 1, 0x0, 0x045, 0x8d5, "add32 fffffff0,10 cf1"
    ALU32 adc, 0x7fffffff, 0x00000001, 0, 0x80000000, 0x894, 0x8d5, "adc32 7fffffff,1 cf0"
    ALU32 adc, 0x7fffffff, 0x00000001, 1, 0x80000001, 0x890, 0x8d5, "adc32 7fffffff,1 cf1"
    ALU32 adc, 0xffffffff, 0x00000001, 0, 0x0, 0x055, 0x8d5, "adc32 ffffffff,1 cf0"
    ALU32 adc, 0xffffffff, 0x00000001, 1, 0x1, 0x011, 0x8d5, "adc32 ffffffff,1 cf1"
    ALU32 adc, 0x00000000, 0x00000001, 0, 0x1, 0x000, 0x8d5, "adc32 0,1 cf0"
    ALU32 adc, 0x00000000, 0x00000001, 1, 0x2, 0x000, 0x8d5, "adc32 0,1 cf1"
    ALU32 adc, 0x80000000, 0x80000000, 0, 0x0, 0x845, 0x8d5, "adc32 80000000,80000000 cf0"
    ALU32 adc, 0x80000000, 0x80000000, 1, 0x1, 0x801, 0x8d5, "adc32 80000000,80000000 cf1"
    ALU32 adc, 0x12345678, 0x0edcba98, 0, 0x21111110, 0x010, 0x8d5, "adc32 12345678,edcba98 cf0"
    ALU32 adc, 0x12345678, 0x0edcba98, 1, 0x21111111, 0x014, 0x8d5, "adc32 12345678,edcba98 cf1"
    ALU32 adc, 0xfffffff0, 0x00000010, 0, 0x0, 0x045, 0x8d5, "adc32 fffffff0,10 cf0"
    ALU32 adc, 0xfffffff0, 0x00000010, 1, 0x1, 0x001, 0x8d5, "adc32 fffffff0,10 cf1"
    ALU32 sub, 0x7fffffff, 0x00000001, 0, 0x7ffffffe, 0x000, 0x8d5, "sub32 7fffffff,1 cf0"
    ALU32 sub, 0xffffffff, 0x00000001, 1, 0xfffffffe, 0x080, 0x8d5, "sub32 ffffffff,1 cf1"
    ALU32 sub, 0x00000000, 0x00000001, 0, 0xffffffff, 0x095, 0x8d5, "sub32 0,1 cf0"
    ALU32 sub, 0x80000000, 0x80000000, 1, 0x0, 0x044, 0x8d5, "sub32 80000000,80000000 cf1"
    ALU32 sub, 0x12345678, 0x0edcba98, 0, 0x3579be0, 0x000, 0x8d5, "sub32 12345678,edcba98 cf0"
    ALU32 sub, 0xfffffff0, 0x00000010, 1, 0xffffffe0, 0x080, 0x8d5, "sub32 fffffff0,10 cf1"
    ALU32 sbb, 0x7fffffff, 0x00000001, 0, 0x7ffffffe, 0x000, 0x8d5, "sbb32 7fffffff,1 cf0"
    ALU32 sbb, 0x7fffffff, 0x00000001, 1, 0x7ffffffd, 0x000, 0x8d5, "sbb32 7fffffff,1 cf1"
    ALU32 sbb, 0xffffffff, 0x00000001, 0, 0xfffffffe, 0x080, 0x8d5, "sbb32 ffffffff,1 cf0"
    ALU32 sbb, 0xffffffff, 0x00000001, 1, 0xfffffffd, 0x080, 0x8d5, "sbb32 ffffffff,1 cf1"
    ALU32 sbb, 0x00000000, 0x00000001, 0, 0xffffffff, 0x095, 0x8d5, "sbb32 0,1 cf0"
    ALU32 sbb, 0x00000000, 0x00000001, 1, 0xfffffffe, 0x091, 0x8d5, "sbb32 0,1 cf1"
    ALU32 sbb, 0x80000000, 0x80000000, 0, 0x0, 0x044, 0x8d5, "sbb32 80000000,80000000 cf0"
    ALU32 sbb, 0x80000000, 0x80000000, 1, 0xffffffff, 0x095, 0x8d5, "sbb32 80000000,80000000 cf1"
    ALU32 sbb, 0x12345678, 0x0edcba98, 0, 0x3579be0, 0x000, 0x8d5, "sbb32 12345678,edcba98 cf0"
    ALU32 sbb, 0x12345678, 0x0edcba98, 1, 0x3579bdf, 0x010, 0x8d5, "sbb32 12345678,edcba98 cf1"
    ALU32 sbb, 0xfffffff0, 0x00000010, 0, 0xffffffe0, 0x080, 0x8d5, "sbb32 fffffff0,10 cf0"
    ALU32 sbb, 0xfffffff0, 0x00000010, 1, 0xffffffdf, 0x090, 0x8d5, "sbb32 fffffff0,10 cf1"
    ALU32 cmp, 0x7fffffff, 0x00000001, 0, 0x7fffffff, 0x000, 0x8d5, "cmp32 7fffffff,1 cf0"
    ALU32 cmp, 0xffffffff, 0x00000001, 1, 0xffffffff, 0x080, 0x8d5, "cmp32 ffffffff,1 cf1"
    ALU32 cmp, 0x00000000, 0x00000001, 0, 0x0, 0x095, 0x8d5, "cmp32 0,1 cf0"
    ALU32 cmp, 0x80000000, 0x80000000, 1, 0x80000000, 0x044, 0x8d5, "cmp32 80000000,80000000 cf1"
    ALU32 cmp, 0x12345678, 0x0edcba98, 0, 0x12345678, 0x000, 0x8d5, "cmp32 12345678,edcba98 cf0"
    ALU32 cmp, 0xfffffff0, 0x00000010, 1, 0xfffffff0, 0x080, 0x8d5, "cmp32 fffffff0,10 cf1"
    ALU32 and, 0x7fffffff, 0x00000001, 0, 0x1, 0x000, 0x8c5, "and32 7fffffff,1 cf0"
    ALU32 and, 0xffffffff, 0x00000001, 1, 0x1, 0x000, 0x8c5, "and32 ffffffff,1 cf1"
    ALU32 and, 0x00000000, 0x00000001, 0, 0x0, 0x044, 0x8c5, "and32 0,1 cf0"
    ALU32 and, 0x80000000, 0x80000000, 1, 0x80000000, 0x084, 0x8c5, "and32 80000000,80000000 cf1"
    ALU32 and, 0x12345678, 0x0edcba98, 0, 0x2141218, 0x004, 0x8c5, "and32 12345678,edcba98 cf0"
    ALU32 and, 0xfffffff0, 0x00000010, 1, 0x10, 0x000, 0x8c5, "and32 fffffff0,10 cf1"
    ALU32 or, 0x7fffffff, 0x00000001, 0, 0x7fffffff, 0x004, 0x8c5, "or32 7fffffff,1 cf0"
    ALU32 or, 0xffffffff, 0x00000001, 1, 0xffffffff, 0x084, 0x8c5, "or32 ffffffff,1 cf1"
    ALU32 or, 0x00000000, 0x00000001, 0, 0x1, 0x000, 0x8c5, "or32 0,1 cf0"
    ALU32 or, 0x80000000, 0x80000000, 1, 0x80000000, 0x084, 0x8c5, "or32 80000000,80000000 cf1"
    ALU32 or, 0x12345678, 0x0edcba98, 0, 0x1efcfef8, 0x000, 0x8c5, "or32 12345678,edcba98 cf0"
    ALU32 or, 0xfffffff0, 0x00000010, 1, 0xfffffff0, 0x084, 0x8c5, "or32 fffffff0,10 cf1"
    ALU32 xor, 0x7fffffff, 0x00000001, 0, 0x7ffffffe, 0x000, 0x8c5, "xor32 7fffffff,1 cf0"
    ALU32 xor, 0xffffffff, 0x00000001, 1, 0xfffffffe, 0x080, 0x8c5, "xor32 ffffffff,1 cf1"
    ALU32 xor, 0x00000000, 0x00000001, 0, 0x1, 0x000, 0x8c5, "xor32 0,1 cf0"
    ALU32 xor, 0x80000000, 0x80000000, 1, 0x0, 0x044, 0x8c5, "xor32 80000000,80000000 cf1"
    ALU32 xor, 0x12345678, 0x0edcba98, 0, 0x1ce8ece0, 0x000, 0x8c5, "xor32 12345678,edcba98 cf0"
    ALU32 xor, 0xfffffff0, 0x00000010, 1, 0xffffffe0, 0x080, 0x8c5, "xor32 fffffff0,10 cf1"
    UN8 inc, 0x00, 0, 0x1, 0x000, 0x8d5, "inc8 0 cf0"
    UN8 inc, 0x01, 1, 0x2, 0x001, 0x8d5, "inc8 1 cf1"
    UN8 inc, 0x7f, 0, 0x80, 0x890, 0x8d5, "inc8 7f cf0"
    UN8 inc, 0x80, 1, 0x81, 0x085, 0x8d5, "inc8 80 cf1"
    UN8 inc, 0xff, 0, 0x0, 0x054, 0x8d5, "inc8 ff cf0"
    UN8 inc, 0x0f, 1, 0x10, 0x011, 0x8d5, "inc8 f cf1"
    UN8 dec, 0x00, 0, 0xff, 0x094, 0x8d5, "dec8 0 cf0"
    UN8 dec, 0x01, 1, 0x0, 0x045, 0x8d5, "dec8 1 cf1"
    UN8 dec, 0x7f, 0, 0x7e, 0x004, 0x8d5, "dec8 7f cf0"
    UN8 dec, 0x80, 1, 0x7f, 0x811, 0x8d5, "dec8 80 cf1"
    UN8 dec, 0xff, 0, 0xfe, 0x080, 0x8d5, "dec8 ff cf0"
    UN8 dec, 0x0f, 1, 0xe, 0x001, 0x8d5, "dec8 f cf1"
    UN8 neg, 0x00, 0, 0x0, 0x044, 0x8d5, "neg8 0 cf0"
    UN8 neg, 0x01, 1, 0xff, 0x095, 0x8d5, "neg8 1 cf1"
    UN8 neg, 0x7f, 0, 0x81, 0x095, 0x8d5, "neg8 7f cf0"
    UN8 neg, 0x80, 1, 0x80, 0x881, 0x8d5, "neg8 80 cf1"
    UN8 neg, 0xff, 0, 0x1, 0x011, 0x8d5, "neg8 ff cf0"
    UN8 neg, 0x0f, 1, 0xf1, 0x091, 0x8d5, "neg8 f cf1"
    UN8 not, 0x00, 0, 0xff, 0x000, 0x001, "not8 0 cf0"
    UN8 not, 0x01, 1, 0xfe, 0x001, 0x001, "not8 1 cf1"
    UN8 not, 0x7f, 0, 0x80, 0x000, 0x001, "not8 7f cf0"
    UN8 not, 0x80, 1, 0x7f, 0x001, 0x001, "not8 80 cf1"
    UN8 not, 0xff, 0, 0x0, 0x000, 0x001, "not8 ff cf0"
    UN8 not, 0x0f, 1, 0xf0, 0x001, 0x001, "not8 f cf1"
    UN16 inc, 0x0000, 0, 0x1, 0x000, 0x8d5, "inc16 0 cf0"
    UN16 inc, 0x0001, 1, 0x2, 0x001, 0x8d5, "inc16 1 cf1"
    UN16 inc, 0x7fff, 0, 0x8000, 0x894, 0x8d5, "inc16 7fff cf0"
    UN16 inc, 0x8000, 1, 0x8001, 0x081, 0x8d5, "inc16 8000 cf1"
    UN16 inc, 0xffff, 0, 0x0, 0x054, 0x8d5, "inc16 ffff cf0"
    UN16 inc, 0x000f, 1, 0x10, 0x011, 0x8d5, "inc16 f cf1"
    UN16 dec, 0x0000, 0, 0xffff, 0x094, 0x8d5, "dec16 0 cf0"
    UN16 dec, 0x0001, 1, 0x0, 0x045, 0x8d5, "dec16 1 cf1"
    UN16 dec, 0x7fff, 0, 0x7ffe, 0x000, 0x8d5, "dec16 7fff cf0"
    UN16 dec, 0x8000, 1, 0x7fff, 0x815, 0x8d5, "dec16 8000 cf1"
    UN16 dec, 0xffff, 0, 0xfffe, 0x080, 0x8d5, "dec16 ffff cf0"
    UN16 dec, 0x000f, 1, 0xe, 0x001, 0x8d5, "dec16 f cf1"
    UN16 neg, 0x0000, 0, 0x0, 0x044, 0x8d5, "neg16 0 cf0"
    UN16 neg, 0x0001, 1, 0xffff, 0x095, 0x8d5, "neg16 1 cf1"
    UN16 neg, 0x7fff, 0, 0x8001, 0x091, 0x8d5, "neg16 7fff cf0"
    UN16 neg, 0x8000, 1, 0x8000, 0x885, 0x8d5, "neg16 8000 cf1"
    UN16 neg, 0xffff, 0, 0x1, 0x011, 0x8d5, "neg16 ffff cf0"
    UN16 neg, 0x000f, 1, 0xfff1, 0x091, 0x8d5, "neg16 f cf1"
    UN16 not, 0x0000, 0, 0xffff, 0x000, 0x001, "not16 0 cf0"
    UN16 not, 0x0001, 1, 0xfffe, 0x001, 0x001, "not16 1 cf1"
    UN16 not, 0x7fff, 0, 0x8000, 0x000, 0x001, "not16 7fff cf0"
    UN16 not, 0x8000, 1, 0x7fff, 0x001, 0x001, "not16 8000 cf1"
    UN16 not, 0xffff, 0, 0x0, 0x000, 0x001, "not16 ffff cf0"
    UN16 not, 0x000f, 1, 0xfff0, 0x001, 0x001, "not16 f cf1"
    UN32 inc, 0x00000000, 0, 0x1, 0x000, 0x8d5, "inc32 0 cf0"
    UN32 inc, 0x00000001, 1, 0x2, 0x001, 0x8d5, "inc32 1 cf1"
    UN32 inc, 0x7fffffff, 0, 0x80000000, 0x894, 0x8d5, "inc32 7fffffff cf0"
    UN32 inc, 0x80000000, 1, 0x80000001, 0x081, 0x8d5, "inc32 80000000 cf1"
    UN32 inc, 0xffffffff, 0, 0x0, 0x054, 0x8d5, "inc32 ffffffff cf0"
    UN32 inc, 0x0000000f, 1, 0x10, 0x011, 0x8d5, "inc32 f cf1"
    UN32 dec, 0x00000000, 0, 0xffffffff, 0x094, 0x8d5, "dec32 0 cf0"
    UN32 dec, 0x00000001, 1, 0x0, 0x045, 0x8d5, "dec32 1 cf1"
    UN32 dec, 0x7fffffff, 0, 0x7ffffffe, 0x000, 0x8d5, "dec32 7fffffff cf0"
    UN32 dec, 0x80000000, 1, 0x7fffffff, 0x815, 0x8d5, "dec32 80000000 cf1"
    UN32 dec, 0xffffffff, 0, 0xfffffffe, 0x080, 0x8d5, "dec32 ffffffff cf0"
    UN32 dec, 0x0000000f, 1, 0xe, 0x001, 0x8d5, "dec32 f cf1"
    UN32 neg, 0x00000000, 0, 0x0, 0x044, 0x8d5, "neg32 0 cf0"
    UN32 neg, 0x00000001, 1, 0xffffffff, 0x095, 0x8d5, "neg32 1 cf1"
    UN32 neg, 0x7fffffff, 0, 0x80000001, 0x091, 0x8d5, "neg32 7fffffff cf0"
    UN32 neg, 0x80000000, 1, 0x80000000, 0x885, 0x8d5, "neg32 80000000 cf1"
    UN32 neg, 0xffffffff, 0, 0x1, 0x011, 0x8d5, "neg32 ffffffff cf0"
    UN32 neg, 0x0000000f, 1, 0xfffffff1, 0x091, 0x8d5, "neg32 f cf1"
    UN32 not, 0x00000000, 0, 0xffffffff, 0x000, 0x001, "not32 0 cf0"
    UN32 not, 0x00000001, 1, 0xfffffffe, 0x001, 0x001, "not32 1 cf1"
    UN32 not, 0x7fffffff, 0, 0x80000000, 0x000, 0x001, "not32 7fffffff cf0"
    UN32 not, 0x80000000, 1, 0x7fffffff, 0x001, 0x001, "not32 80000000 cf1"
    UN32 not, 0xffffffff, 0, 0x0, 0x000, 0x001, "not32 ffffffff cf0"
    UN32 not, 0x0000000f, 1, 0xfffffff0, 0x001, 0x001, "not32 f cf1"

; ---- memory and immediate forms ---------------------------------------------------------------
    mov byte [es:MEM], 0xF0
    add byte [es:MEM], 0x20
    FLAGS_EQ OSZAPC, 0x001, "add m8, imm8: CF only"
    EXPECT16 [es:MEM], 0x0010, "add m8, imm8 result (next byte untouched)"
    mov word [es:MEM], 0x0005
    sub word [es:MEM], byte -3             ; 83 /5 ib, sign-extended
    EXPECT16 [es:MEM], 0x0008, "sub m16, imm8 sign-extended"
    FLAGS_EQ OSZAPC, 0x011, "sub m16, -3 borrows (CF AF)"
    mov dword [es:MEM], 0x7FFFFFFF
    add dword [es:MEM], 1
    FLAGS_EQ OSZAPC, 0x894, "add m32, 1 overflows"
    EXPECT32 [es:MEM], 0x80000000, "add m32, 1 result"
    mov ax, 0x1234
    mov word [es:MEM], 0x00FF
    and ax, [es:MEM]
    EXPECT16 ax, 0x0034, "and r16, m16"
    mov bx, 0x0F0F
    or [es:MEM], bx
    EXPECT16 [es:MEM], 0x0FFF, "or m16, r16"
    xor word [es:MEM], 0xFFFF
    EXPECT16 [es:MEM], 0xF000, "xor m16, imm16"
    mov al, 0x10
    cmp al, 0x20
    FLAGS_EQ OSZAPC, 0x085, "cmp al, imm8 borrow"
    EXPECT16 ax, 0x0010, "cmp leaves the operand"
    mov ax, 0xFFFF
    test ax, 0x8000
    FLAGS_EQ OSZPC, 0x084, "test ax, 8000: SF PF"
    test ax, 0
    FLAGS_EQ OSZPC, 0x044, "test ax, 0: ZF PF"
    mov dword [es:MEM], 0xFFFFFFFF
    stc
    adc dword [es:MEM], 0
    FLAGS_EQ OSZAPC, 0x055, "adc m32, 0 with CF wraps"
    stc
    sbb dword [es:MEM], 0
    EXPECT32 [es:MEM], 0xFFFFFFFF, "sbb m32, 0 with CF borrows"
    FLAGS_EQ OSZAPC, 0x095, "sbb m32 flags"
    mov byte [es:MEM], 0x7F
    inc byte [es:MEM]
    FLAGS_EQ 0x8D4, 0x890, "inc m8 7F overflows"
    mov word [es:MEM], 0
    dec word [es:MEM]
    EXPECT16 [es:MEM], 0xFFFF, "dec m16"
    neg word [es:MEM]
    EXPECT16 [es:MEM], 0x0001, "neg m16"
    not word [es:MEM]
    EXPECT16 [es:MEM], 0xFFFE, "not m16"

; ---- multiply ---------------------------------------------------------------------------------
    mov al, 0x80
    mov bl, 2
    mul bl
    EXPECT16 ax, 0x0100, "mul r8 80*2"
    FLAGS_EQ 0x801, 0x801, "mul r8 high half nonzero: CF OF"
    mov al, 0x10
    mov bl, 0x0F
    mul bl
    EXPECT16 ax, 0x00F0, "mul r8 10*0F"
    FLAGS_EQ 0x801, 0x000, "mul r8 fits: CF OF clear"
    mov ax, 0x1234
    mov dx, 0x5555
    mov bx, 0x0100
    mul bx
    EXPECT16 ax, 0x3400, "mul r16 low"
    EXPECT16 dx, 0x0012, "mul r16 high in DX"
    FLAGS_EQ 0x801, 0x801, "mul r16 CF OF"
    mov eax, 0x80000000
    mov ebx, 4
    mul ebx
    EXPECT32 eax, 0, "mul r32 low"
    EXPECT32 edx, 2, "mul r32 high in EDX"
    mov word [es:MEM], 300
    mov ax, 300
    mul word [es:MEM]
    EXPECT16 ax, 0x5F90, "mul m16 300*300 low"
    EXPECT16 dx, 0x0001, "mul m16 300*300 high"
    mov al, 0xFE
    mov bl, 3
    imul bl
    EXPECT16 ax, 0xFFFA, "imul r8 -2*3"
    FLAGS_EQ 0x801, 0x000, "imul r8 fits: CF OF clear"
    mov al, 0x40
    mov bl, 2
    imul bl
    EXPECT16 ax, 0x0080, "imul r8 64*2"
    FLAGS_EQ 0x801, 0x801, "imul r8 128 overflows AL: CF OF"
    mov ax, 0x8000
    mov bx, 0xFFFF
    imul bx
    EXPECT16 ax, 0x8000, "imul r16 -32768*-1 low"
    EXPECT16 dx, 0x0000, "imul r16 -32768*-1 high"
    FLAGS_EQ 0x801, 0x801, "imul r16 overflow CF OF"
    mov eax, -5
    mov ebx, 7
    imul ebx
    EXPECT32 eax, -35, "imul r32 -5*7 low"
    EXPECT32 edx, 0xFFFFFFFF, "imul r32 -5*7 high (sign)"
    FLAGS_EQ 0x801, 0x000, "imul r32 fits"
    mov ecx, 0x10000
    mov ebx, 0x10000
    imul ecx, ebx
    EXPECT32 ecx, 0, "imul r32, r32 truncates"
    FLAGS_EQ 0x801, 0x801, "imul r32, r32 overflow CF OF"
    mov bx, 7
    imul cx, bx, 10
    EXPECT16 cx, 70, "imul r16, r16, imm8"
    FLAGS_EQ 0x801, 0x000, "imul 3-operand fits"
    imul cx, bx, -3
    EXPECT16 cx, 0xFFEB, "imul r16, r16, -3"
    mov word [es:MEM], 0x4000
    imul ax, [es:MEM], 4
    EXPECT16 ax, 0x0000, "imul r16, m16, imm truncates"
    FLAGS_EQ 0x801, 0x801, "imul r16, m16, imm overflow"
    mov dword [es:MEM], 100000
    imul eax, [es:MEM], 300000
    EXPECT32 eax, 0xFC23AC00, "imul r32, m32, imm32 (low 32 bits of 3e10)"

; ---- divide -----------------------------------------------------------------------------------
    mov ax, 1000
    mov bl, 7
    div bl
    EXPECT16 ax, 0x068E, "div r8 1000/7 = 142 r 6"
    mov dx, 1
    xor ax, ax
    mov bx, 3
    div bx
    EXPECT16 ax, 0x5555, "div r16 65536/3 quotient"
    EXPECT16 dx, 0x0001, "div r16 remainder"
    mov edx, 1
    xor eax, eax
    mov ebx, 0x10
    div ebx
    EXPECT32 eax, 0x10000000, "div r32 quotient"
    EXPECT32 edx, 0, "div r32 remainder"
    mov ax, -100
    mov bl, 7
    idiv bl
    EXPECT16 ax, 0xFEF2, "idiv r8 -100/7 = -14 r -2"
    mov ax, -7
    cwd
    mov bx, 2
    idiv bx
    EXPECT16 ax, 0xFFFD, "idiv r16 -7/2 quotient truncates toward 0"
    EXPECT16 dx, 0xFFFF, "idiv r16 remainder has the dividend's sign"
    mov eax, 100
    cdq
    mov ebx, -7
    idiv ebx
    EXPECT32 eax, -14, "idiv r32 100/-7 quotient"
    EXPECT32 edx, 2, "idiv r32 remainder"
    mov ax, 0xFF80
    mov bl, 1
    idiv bl
    EXPECT16 ax, 0x0080, "idiv r8 -128/1 = -128 fits"
    mov word [es:MEM], 10
    mov ax, 105
    div byte [es:MEM]
    EXPECT16 ax, 0x050A, "div m8"

    ; #DE through IVT vector 0: the handler sees the faulting instruction's address
    mov ax, 0x1234
    xor bl, bl
    DE_TRY
    div bl
    DE_END "div r8 by zero"
    EXPECT16 ax, 0x1234, "div by zero leaves AX"
    mov ax, 0x8000
    mov bl, 2
    DE_TRY
    div bl
    DE_END "div r8 quotient overflow"
    mov ax, 0x0080
    mov bl, 1
    DE_TRY
    idiv bl
    DE_END "idiv r8 +128 overflow"
    mov dx, 0xFFFF
    mov ax, 0x8000
    mov bx, 0xFFFF
    DE_TRY
    idiv bx
    DE_END "idiv r16 -32768/-1"
    mov edx, 0
    mov eax, 5
    xor ebx, ebx
    DE_TRY
    div ebx
    DE_END "div r32 by zero (66 prefix)"
    mov word [es:MEM], 0
    DE_TRY
    div word [es:MEM]
    DE_END "div m16 by zero"
    DE_TRY
    aam 0
    DE_END "aam 0"

; ---- bit tests --------------------------------------------------------------------------------
    mov ax, 0x0010
    clc
    bt ax, 4
    FLAGS_EQ 0x001, 0x001, "bt r16, imm: bit set -> CF"
    bt ax, 3
    FLAGS_EQ 0x001, 0x000, "bt r16, imm: bit clear"
    bt ax, 20                              ; register operand: offset mod 16 = 4
    FLAGS_EQ 0x001, 0x001, "bt r16, imm 20 wraps to bit 4"
    bts ax, 0
    EXPECT16 ax, 0x0011, "bts sets bit 0"
    FLAGS_EQ 0x001, 0x000, "bts CF = old bit"
    btr ax, 4
    EXPECT16 ax, 0x0001, "btr clears bit 4"
    FLAGS_EQ 0x001, 0x001, "btr CF = old bit"
    btc ax, 15
    EXPECT16 ax, 0x8001, "btc toggles bit 15"
    mov eax, 0x80000000
    mov cx, 31
    bt eax, ecx
    FLAGS_EQ 0x001, 0x001, "bt r32, r32 bit 31"
    ; memory bit strings: the register offset selects other words
    mov dword [es:MEM], 0
    mov dword [es:MEM + 4], 0
    mov dword [es:MEM + 8], 0
    mov dword [es:MEM + 12], 0
    mov bx, 20
    bts [es:MEM], bx                       ; word at MEM+2, bit 4
    EXPECT16 [es:MEM + 2], 0x0010, "bts m16, r16 = 20 sets bit 4 of the next word"
    mov ebx, 35
    bts dword [es:MEM + 4], ebx            ; dword at MEM+8, bit 3
    EXPECT32 [es:MEM + 8], 0x00000008, "bts m32, r32 = 35 addresses the next dword"
    mov bx, -1
    bts [es:MEM + 4], bx                   ; word at MEM+2, bit 15
    EXPECT16 [es:MEM + 2], 0x8010, "bts m16, r16 = -1 addresses the previous word"
    mov bx, 20
    btr [es:MEM], bx
    EXPECT16 [es:MEM + 2], 0x8000, "btr m16, r16 = 20"
    FLAGS_EQ 0x001, 0x001, "btr m16 CF = old bit"
    bt word [es:MEM], 17                   ; immediate offset: mod 16
    FLAGS_EQ 0x001, 0x000, "bt m16, imm 17 uses bit 1 of the same word"
    mov word [es:MEM], 2
    bt word [es:MEM], 17
    FLAGS_EQ 0x001, 0x001, "bt m16, imm 17 reads bit 1"
    mov ax, 0x0100
    bsf cx, ax
    EXPECT16 cx, 8, "bsf 0100 = 8"
    FLAGS_EQ 0x040, 0x000, "bsf nonzero clears ZF"
    mov ax, 0x8001
    bsr cx, ax
    EXPECT16 cx, 15, "bsr 8001 = 15"
    mov eax, 0x00400000
    bsr ecx, eax
    EXPECT32 ecx, 22, "bsr r32"
    bsf ecx, eax
    EXPECT32 ecx, 22, "bsf r32"
    xor ax, ax
    bsf cx, ax
    FLAGS_EQ 0x040, 0x040, "bsf 0 sets ZF"
    bsr cx, ax
    FLAGS_EQ 0x040, 0x040, "bsr 0 sets ZF"

; ---- BCD --------------------------------------------------------------------------------------
    mov al, 0x19
    add al, 0x28                           ; 0x41, AF=1
    daa
    EXPECT16 ax, 0x0047, "daa 19+28 = 47"
    FLAGS_EQ 0x0D5, 0x014, "daa 19+28 flags: AF PF"
    mov al, 0x99
    add al, 0x01
    daa
    EXPECT16 ax, 0x0000, "daa 99+1 = 00 carry"
    FLAGS_EQ 0x0D5, 0x055, "daa 99+1 flags: CF ZF AF PF"
    mov al, 0x79
    add al, 0x35                           ; 0xAE
    daa
    EXPECT16 ax, 0x0014, "daa 79+35 = 114"
    FLAGS_EQ 0x001, 0x001, "daa 79+35 CF"
    mov al, 0x47
    sub al, 0x28
    das
    EXPECT16 ax, 0x0019, "das 47-28 = 19"
    mov al, 0x10
    sub al, 0x20
    das
    EXPECT16 ax, 0x0090, "das 10-20 = 90 borrow"
    FLAGS_EQ 0x0C5, 0x085, "das 10-20 flags: CF SF PF"
    mov ax, 0x0009
    add al, 3
    aaa
    EXPECT16 ax, 0x0102, "aaa 9+3 = 0102"
    FLAGS_EQ 0x011, 0x011, "aaa carry: AF CF"
    mov ax, 0x0005
    add al, 3
    aaa
    EXPECT16 ax, 0x0008, "aaa 5+3 = 0008"
    FLAGS_EQ 0x011, 0x000, "aaa no carry: AF CF clear"
    mov ax, 0x0102
    sub al, 3
    aas
    EXPECT16 ax, 0x0009, "aas 12-3 = 0009"
    FLAGS_EQ 0x011, 0x011, "aas borrow: AF CF"
    mov al, 47
    aam
    EXPECT16 ax, 0x0407, "aam 47 = 0407"
    FLAGS_EQ 0x0C4, 0x000, "aam 47 flags (07: odd parity)"
    mov al, 0xFF
    aam 16
    EXPECT16 ax, 0x0F0F, "aam 16: FF = 0F0F"
    mov ax, 0x0407
    aad
    EXPECT16 ax, 47, "aad 0407 = 47"
    mov ax, 0x0F0F
    aad 16
    EXPECT16 ax, 0x00FF, "aad 16: 0F0F = FF"
    FLAGS_EQ 0x0C4, 0x084, "aad result FF: SF PF"

; ---- conversions --------------------------------------------------------------------------------
    mov ax, 0x1280
    cbw
    EXPECT16 ax, 0xFF80, "cbw 80"
    mov al, 0x7F
    cbw
    EXPECT16 ax, 0x007F, "cbw 7F"
    mov eax, 0x12348000
    cwde
    EXPECT32 eax, 0xFFFF8000, "cwde 8000"
    mov dx, 0x1234
    mov ax, 0x8000
    cwd
    EXPECT16 dx, 0xFFFF, "cwd 8000"
    mov ax, 0x7FFF
    cwd
    EXPECT16 dx, 0x0000, "cwd 7FFF"
    mov eax, 0x80000000
    cdq
    EXPECT32 edx, 0xFFFFFFFF, "cdq 80000000"
    mov byte [es:MEM], 0xFF
    movzx eax, byte [es:MEM]
    EXPECT32 eax, 0xFF, "movzx r32, m8"
    movsx eax, byte [es:MEM]
    EXPECT32 eax, 0xFFFFFFFF, "movsx r32, m8"
    mov bx, 0x8001
    movsx ecx, bx
    EXPECT32 ecx, 0xFFFF8001, "movsx r32, r16"
    movzx ecx, bh
    EXPECT32 ecx, 0x80, "movzx r32, r8 (high byte)"
    mov bx, 0xFFFF
    mov si, 2
    lea ax, [bx + si + 0x10]
    EXPECT16 ax, 0x0011, "lea 16-bit address wraps at 64 KiB"
    mov ebx, 0x10000
    mov ecx, 3
    lea eax, [ebx + ecx * 4 + 8]
    EXPECT32 eax, 0x10014, "lea 32-bit address (67 prefix) with SIB"
    lea ax, [ebx + ecx * 4 + 8]
    EXPECT16 ax, 0x0014, "lea 16-bit destination truncates"

; ---- SETcc / CMOVcc: 5 cmp 7 (unsigned below, signed less), then 7 cmp 5, then 5 cmp 5 --------
    mov al, 5
    cmp al, 7                              ; CF=1 ZF=0 SF=1 OF=0 PF: FE -> odd parity (7 bits) -> 0
    seto [es:MEM + 0]
    setno [es:MEM + 1]
    setb [es:MEM + 2]
    setae [es:MEM + 3]
    sete [es:MEM + 4]
    setne [es:MEM + 5]
    setbe [es:MEM + 6]
    seta [es:MEM + 7]
    sets [es:MEM + 8]
    setns [es:MEM + 9]
    setp [es:MEM + 10]
    setnp [es:MEM + 11]
    setl [es:MEM + 12]
    setge [es:MEM + 13]
    setle [es:MEM + 14]
    setg [es:MEM + 15]
    ; o no b ae | e ne be a | s ns p np | l ge le g
    EXPECT32 [es:MEM], 0x00010100, "setcc o no b ae after cmp 5, 7"
    EXPECT32 [es:MEM + 4], 0x00010100, "setcc e ne be a after cmp 5, 7"
    EXPECT32 [es:MEM + 8], 0x01000001, "setcc s ns p np after cmp 5, 7"
    EXPECT32 [es:MEM + 12], 0x00010001, "setcc l ge le g after cmp 5, 7"
    mov al, 0x80
    cmp al, 1                              ; 80-1 = 7F: OF=1 SF=0 CF=0 ZF=0
    mov dx, 0xFFFF
    setl dl
    EXPECT16 dx, 0xFF01, "setl after signed overflow (SF != OF)"
    setg dl
    EXPECT16 dx, 0xFF00, "setg after signed overflow"
    seta dl
    EXPECT16 dx, 0xFF01, "seta 80 > 1 unsigned"
    mov word [es:MEM], 0x5555
    cmp al, al
    sete byte [es:MEM]
    EXPECT16 [es:MEM], 0x5501, "sete m8 writes one byte"
    mov bx, 0x1111
    mov dx, 0x2222
    mov al, 5
    cmp al, 7
    cmova dx, bx
    EXPECT16 dx, 0x2222, "cmova not taken"
    cmovb dx, bx
    EXPECT16 dx, 0x1111, "cmovb taken"
    mov ecx, 0x12345678
    mov dword [es:MEM], 0xCAFEBABE
    cmp al, 7
    cmovl ecx, [es:MEM]
    EXPECT32 ecx, 0xCAFEBABE, "cmovl r32, m32 taken"
    mov ecx, 0x12345678
    cmovg ecx, [es:MEM]
    EXPECT32 ecx, 0x12345678, "cmovg r32, m32 not taken"

; ---- exchange and compare ---------------------------------------------------------------------
    mov ax, 5
    mov bx, 3
    xadd ax, bx
    EXPECT16 ax, 8, "xadd sum"
    EXPECT16 bx, 5, "xadd old value"
    mov word [es:MEM], 0xFFFF
    mov cx, 1
    xadd [es:MEM], cx
    EXPECT16 [es:MEM], 0, "xadd m16 sum"
    EXPECT16 cx, 0xFFFF, "xadd m16 old value"
    FLAGS_EQ OSZAPC, 0x055, "xadd flags as add"
    mov ax, 5
    mov bx, 5
    mov cx, 9
    cmpxchg bx, cx
    FLAGS_EQ 0x040, 0x040, "cmpxchg equal sets ZF"
    EXPECT16 bx, 9, "cmpxchg equal stores the source"
    mov ax, 1
    cmpxchg bx, cx
    FLAGS_EQ 0x040, 0x000, "cmpxchg unequal clears ZF"
    EXPECT16 ax, 9, "cmpxchg unequal loads the accumulator"
    EXPECT16 bx, 9, "cmpxchg unequal leaves the destination"
    mov dword [es:MEM], 0x11112222
    mov eax, 0x11112222
    mov ebx, 0xABCDEF01
    lock cmpxchg [es:MEM], ebx
    EXPECT32 [es:MEM], 0xABCDEF01, "lock cmpxchg m32 equal"
    mov al, 0x10
    mov byte [es:MEM], 0x20
    cmpxchg [es:MEM], bl
    FLAGS_EQ OSZAPC, 0x085, "cmpxchg flags as cmp 10, 20"
    movzx ax, al
    EXPECT16 ax, 0x0020, "cmpxchg m8 unequal loads AL"
    mov dword [es:MEM], 0x11111111
    mov dword [es:MEM + 4], 0x22222222
    mov eax, 0x11111111
    mov edx, 0x22222222
    mov ebx, 0x33333333
    mov ecx, 0x44444444
    cmpxchg8b [es:MEM]
    FLAGS_EQ 0x040, 0x040, "cmpxchg8b equal sets ZF"
    EXPECT32 [es:MEM + 4], 0x44444444, "cmpxchg8b stores ECX:EBX"
    xor eax, eax
    cmpxchg8b [es:MEM]
    FLAGS_EQ 0x040, 0x000, "cmpxchg8b unequal clears ZF"
    EXPECT32 eax, 0x33333333, "cmpxchg8b unequal loads EAX"
    EXPECT32 edx, 0x44444444, "cmpxchg8b unequal loads EDX"
    mov ax, 0x1234
    mov bx, 0x5678
    xchg ax, bx
    EXPECT16 ax, 0x5678, "xchg ax, bx"
    mov word [es:MEM], 0xAAAA
    xchg [es:MEM], bx
    EXPECT16 bx, 0xAAAA, "xchg m16, r16"
    EXPECT16 [es:MEM], 0x1234, "xchg m16 stored"
    mov eax, 0x12345678
    bswap eax
    EXPECT32 eax, 0x78563412, "bswap eax"
    mov edi, 0x01020304
    bswap edi
    EXPECT32 edi, 0x04030201, "bswap edi"

; ---- 32-bit addressing in real mode -------------------------------------------------------------
    mov dword [es:MEM + 8], 0xDEADBEEF
    xor ebx, ebx
    mov bx, MEM
    mov ecx, 2
    mov eax, [es:ebx + ecx * 4]
    EXPECT32 eax, 0xDEADBEEF, "mov r32, [ebx + ecx*4] (67 prefix)"
    mov esi, 4
    add dword [es:ebx + esi + 4], 0x11111111
    EXPECT32 [es:MEM + 8], 0xEFBED000, "add [ebx + esi + 4], imm32"
    mov ax, 0x00FF
    add ah, al
    EXPECT16 ax, 0xFFFF, "add ah, al (high-byte register)"

    FINISH

de_handler:
    push bp
    mov bp, sp
    push ax
    push es
    xor ax, ax
    mov es, ax
    inc word [es:DE_COUNT]
    mov ax, [bp + 2]
    mov [es:DE_IP], ax
    mov ax, [bp + 4]
    mov [es:DE_CS], ax
    mov ax, [es:RECOVER]
    mov [bp + 2], ax
    pop es
    pop ax
    pop bp
    iret
