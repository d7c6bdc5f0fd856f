; far_real.asm - real-mode far transfers: CALLF/JMPF ptr16:16 and ptr16:32, RETF and RETF imm16,
; within the ROM's own segment (F000) and to and from another segment (a routine copied to
; 0700:0000), including a stack whose far-call frame wraps around offset 0 (SP = 2), so both the
; JIT's native same-segment path and its interpreter fallback are exercised.
; Prints PASS/FAIL lines on COM1; exits through port 0xF4 with 0 when every check passed.
%include "lib/rom.inc"

RM_SEG      equ 0x0700          ; the copied routine runs at 0700:0000 (linear 0x7000)
WRAP_SEG    equ 0x8000          ; stack segment for the wrap-around case

main:
    ; ---- same segment ---------------------------------------------------------------------
    xor ax, ax
    mov dx, sp
    call 0xF000:far_inc
    mov si, sp
    EXPECT16 ax, 1, "callf/retf same segment: routine ran"
    EXPECT16 si, dx, "callf/retf same segment: SP restored"

    ; The frame a 16-bit far call pushes: IP at [sp], CS at [sp+2].
    call 0xF000:far_frame16
after_frame16:
    EXPECT16 bx, OFS(after_frame16), "callf: pushed IP"
    EXPECT16 cx, 0xF000, "callf: pushed CS"

    ; RETF imm16 drops the arguments.
    mov dx, sp
    push word 0x1111
    push word 0x2222
    call 0xF000:far_ret4
    mov si, sp
    EXPECT16 si, dx, "retf 4: arguments dropped"
    EXPECT16 ax, 0x2222, "retf 4: argument read"

    ; 32-bit operand size: EIP and CS pushed as dwords, o32 retf pops 8 bytes.
    mov dx, sp
    call dword 0xF000:far_frame32
after_frame32:
    mov si, sp
    EXPECT16 si, dx, "o32 callf/retf: SP restored"
    EXPECT32 ebx, OFS(after_frame32), "o32 callf: pushed EIP"
    EXPECT32 ecx, 0xF000, "o32 callf: pushed CS (zero-extended)"

    ; A far jump within the segment.
    mov ax, 5
    jmp 0xF000:far_jump_target
    mov ax, 0xBAD
far_jump_target:
    EXPECT16 ax, 5, "jmpf same segment"

    ; Chained far calls in a loop.
    xor ax, ax
    mov cx, 1000
.loop:
    call 0xF000:far_inc
    dec cx
    jnz .loop
    EXPECT16 ax, 1000, "callf in a loop"

    ; ---- another segment ------------------------------------------------------------------
    mov ax, RM_SEG
    mov es, ax
    xor di, di
    mov si, other_seg_code
    mov cx, other_seg_end - other_seg_code
    cld
    rep movsb
    xor ax, ax
    mov es, ax
    xor bx, bx
    mov dx, sp
    call RM_SEG:0
    mov si, sp
    EXPECT16 bx, 0x0701, "callf to another segment and retf back"
    EXPECT16 si, dx, "callf to another segment: SP restored"
    mov ax, cs
    EXPECT16 ax, 0xF000, "retf back: CS"
    ; Again, now that both blocks are translated.
    xor bx, bx
    call RM_SEG:0
    EXPECT16 bx, 0x0701, "callf to another segment, second time"

    ; ---- a far-call frame that wraps around the stack segment ------------------------------
    mov bp, sp
    mov ax, WRAP_SEG
    mov ss, ax
    mov sp, 2
    xor ax, ax
    call 0xF000:far_inc             ; pushes CS at 0000, IP at FFFE
after_wrap:
    mov si, sp
    mov di, [ss:0xFFFE]
    mov cx, [ss:0x0000]
    mov ax, 0x9000
    mov ss, ax
    mov sp, bp
    EXPECT16 si, 2, "wrapped frame: SP restored"
    EXPECT16 di, OFS(after_wrap), "wrapped frame: IP at FFFE"
    EXPECT16 cx, 0xF000, "wrapped frame: CS at 0000"

    FINISH

far_inc:
    inc ax
    retf

far_frame16:
    mov bp, sp
    mov bx, [ss:bp]
    mov cx, [ss:bp + 2]
    retf

far_ret4:
    mov bp, sp
    mov ax, [ss:bp + 4]
    retf 4

far_frame32:
    mov bp, sp
    mov ebx, [ss:bp]
    mov ecx, [ss:bp + 4]
    o32 retf

; Copied to RM_SEG:0 (position-independent).
other_seg_code:
    mov bx, cs
    inc bx
    retf
other_seg_end:
