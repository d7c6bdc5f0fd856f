; real_mode_control.asm - near/far jumps and calls, RET imm, LOOP/JCXZ, INT/IRET through the IVT,
; INT3/INTO, #UD with the faulting IP, PUSHA/POPA, ENTER/LEAVE, PUSHF/POPF, LES/LDS/LSS, XLAT.
%include "lib/real16.inc"
ROM_BEGIN
    ; IVT entries: 0x40 -> int40, 3 -> int3h, 4 -> into_h, 6 -> ud_h
    mov word [es:0x40*4], int40
    mov word [es:0x40*4+2], cs
    mov word [es:3*4], int3h
    mov word [es:3*4+2], cs
    mov word [es:4*4], into_h
    mov word [es:4*4+2], cs
    mov word [es:6*4], ud_h
    mov word [es:6*4+2], cs
    mov word [es:0x510], 0

    ; near call/ret with stack check
    mov bx, sp
    call near_fn
    cmp ax, 0x1234
    CHECK "near call returns a value"
    cmp sp, bx
    CHECK "near call/ret balance SP"
    push word 7
    push word 9
    call add_args
    cmp ax, 16
    CHECK "ret imm16 pops arguments"
    cmp sp, bx
    CHECK "ret imm16 restores SP"

    ; far call/ret
    call 0xf000:far_fn
    cmp ax, 0x4321
    CHECK "far call/retf"
    cmp sp, bx
    CHECK "far call/retf balance SP"

    ; far jmp through memory
    jmp far [cs:far_target]
back_from_far:
    cmp ax, 0x5555
    CHECK "jmp far m16:16"

    ; loops
    xor ax, ax
    mov cx, 10
l1: inc ax
    loop l1
    cmp ax, 10
    CHECK "loop runs CX times"
    xor cx, cx
    mov ax, 1
    jcxz skip1
    mov ax, 2
skip1:
    cmp ax, 1
    CHECK "jcxz taken when CX=0"
    mov cx, 5
    mov ax, 0
l2: inc ax
    cmp ax, 3
    loopne l2
    cmp ax, 3
    CHECK "loopne stops on equality"

    ; software interrupts
    pushf
    pop dx
    or dx, 0x200                    ; pretend IF was set in the image we compare with
    mov ax, 0x4000
    int 0x40
    cmp ax, 0x4001
    CHECK "int 40h handler ran and iret returned"
    int3
    cmp word [es:0x510], 1
    CHECK "int3 through IVT vector 3"
    mov al, 0x7f
    add al, 1                       ; OF=1
    into
    cmp word [es:0x510], 2
    CHECK "into with OF=1 raises vector 4"
    mov al, 1
    add al, 1                       ; OF=0
    into
    cmp word [es:0x510], 2
    CHECK "into with OF=0 does nothing"
ud_site:
    ud2
    cmp word [es:0x512], ud_site
    CHECK "#UD pushes the address of the faulting instruction"

    ; pusha/popa
    mov ax, 1
    mov cx, 2
    mov dx, 3
    mov bx, 4
    mov bp, 6
    mov si, 7
    mov di, 8
    pusha
    xor ax, ax
    xor cx, cx
    xor dx, dx
    xor bx, bx
    xor bp, bp
    xor si, si
    xor di, di
    mov bp, sp
    cmp word [ss:bp+6], bp          ; pushed SP is the value before PUSHA: bp+16
    popa
    cmp di, 8
    CHECK "popa restores DI"
    cmp ax, 1
    CHECK "popa restores AX"
    cmp bp, 6
    CHECK "popa restores BP"

    ; enter/leave
    mov bp, 0x1111
    mov bx, sp
    enter 8, 0
    lea ax, [bx-2]
    cmp bp, ax
    CHECK "enter sets BP to the frame"
    lea ax, [bx-10]
    cmp sp, ax
    CHECK "enter reserves locals"
    leave
    cmp sp, bx
    CHECK "leave restores SP"
    cmp bp, 0x1111
    CHECK "leave restores BP"

    ; pushf/popf
    stc
    std
    pushf
    clc
    cld
    popf
    FLAGS_IS 0x401, 0x401
    cld
    CHECK "popf restores CF and DF"

    ; les/lds/lss
    les di, [cs:farptr]
    mov ax, es
    cmp ax, 0x1234
    CHECK "les segment"
    cmp di, 0x5678
    CHECK "les offset"
    xor ax, ax
    mov es, ax
    push ds
    lds si, [cs:farptr]
    mov ax, ds
    pop ds
    cmp ax, 0x1234
    CHECK "lds segment"

    ; xlat
    mov bx, table
    mov al, 2
    cs xlatb
    cmp al, 0x30
    CHECK "xlat"
ROM_END

near_fn:
    mov ax, 0x1234
    ret

add_args:
    push bp
    mov bp, sp
    mov ax, [ss:bp+4]
    add ax, [ss:bp+6]
    pop bp
    ret 4

far_fn:
    mov ax, 0x4321
    retf

far_jmp_dest:
    mov ax, 0x5555
    jmp back_from_far

int40:
    inc ax
    iret

int3h:
    push es
    push ax
    xor ax, ax
    mov es, ax
    inc word [es:0x510]
    pop ax
    pop es
    iret

into_h:
    push es
    push ax
    xor ax, ax
    mov es, ax
    inc word [es:0x510]
    pop ax
    pop es
    iret

ud_h:
    push bp
    mov bp, sp
    push es
    push ax
    xor ax, ax
    mov es, ax
    mov ax, [ss:bp+2]               ; faulting IP
    mov [es:0x512], ax
    add word [ss:bp+2], 2           ; skip UD2
    pop ax
    pop es
    pop bp
    iret

far_target: dw far_jmp_dest, 0xf000
farptr: dw 0x5678, 0x1234
table: db 0x10, 0x20, 0x30, 0x40

ROM_FOOTER
