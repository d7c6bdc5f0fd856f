; real_mode_alu.asm - real-mode integer ALU, flags, multiply/divide (#DE), shifts, BCD, bit ops.
%include "lib/real16.inc"
ROM_BEGIN
    ; #DE handler (IVT vector 0): count the fault and skip the 2-byte DIV that raised it.
    mov word [es:0*4], de_handler
    mov word [es:0*4+2], cs
    mov word [es:0x502], 0

    ; --- add/sub/adc/sbb/inc/neg flags (OF SF ZF AF PF CF = 0x8D5) ---
    mov al, 0x7f
    add al, 1
    FLAGS_IS 0x8d5, 0x890
    CHECK "add 7F+1: OF SF AF set, CF ZF PF clear"
    cmp al, 0x80
    CHECK "add 7F+1 = 80"
    mov ax, 0xffff
    add ax, 1
    FLAGS_IS 0x8d5, 0x055
    CHECK "add FFFF+1: CF ZF AF PF"
    mov al, 0
    sub al, 1
    FLAGS_IS 0x8d5, 0x095
    CHECK "sub 0-1: CF SF AF PF"
    stc
    mov al, 0xfe
    adc al, 1
    FLAGS_IS 0x8d5, 0x055
    CHECK "adc FE+1+CF = 0 with carry"
    stc
    mov al, 1
    sbb al, 1
    FLAGS_IS 0x8d5, 0x095
    CHECK "sbb 1-1-CF = FF with borrow"
    stc
    mov al, 0xff
    inc al
    FLAGS_IS 0x8d5, 0x055
    CHECK "inc FF keeps CF, sets ZF AF PF"
    mov al, 0x80
    neg al
    FLAGS_IS 0x8d5, 0x881
    CHECK "neg 80: CF OF SF"
    mov ax, 0x1234
    and ax, 0x00ff
    FLAGS_IS 0x8c5, 0x000
    CHECK "and clears CF OF; 34 has odd parity"
    mov ax, 0x8000
    or ax, ax
    FLAGS_IS 0x8c5, 0x084
    CHECK "or 8000: SF PF"

    ; --- multiply / divide ---
    mov al, 0x80
    mov bl, 2
    mul bl
    FLAGS_IS 0x801, 0x801
    CHECK "mul 80*2 sets CF OF"
    cmp ax, 0x100
    CHECK "mul 80*2 = 100"
    mov al, 0xfe
    mov bl, 3
    imul bl
    FLAGS_IS 0x801, 0
    CHECK "imul -2*3 fits: CF OF clear"
    cmp ax, 0xfffa
    CHECK "imul -2*3 = -6"
    mov ax, 0x1234
    mov dx, 0x10
    mov bx, 0x100
    mul bx
    cmp dx, 0x12
    CHECK "mul word high half in DX"
    mov ax, 1000
    mov bl, 7
    div bl
    cmp ax, 0x068e
    CHECK "div 1000/7 = 142 r 6"
    mov ax, -100
    mov bl, 7
    idiv bl
    cmp ax, 0xfef2
    CHECK "idiv -100/7 = -14 r -2"
    mov bx, 7
    imul cx, bx, 10
    cmp cx, 70
    CHECK "imul cx, bx, 10"
    xor bl, bl
    mov ax, 5
    div bl                         ; #DE: handler skips it
    cmp word [es:0x502], 1
    CHECK "div by zero raises #DE at the DIV"
    mov ax, 0x8000
    mov bl, 2
    div bl                         ; quotient 0x4000 overflows AL: #DE
    cmp word [es:0x502], 2
    CHECK "div quotient overflow raises #DE"

    ; --- shifts and rotates ---
    mov al, 0x81
    shl al, 1
    FLAGS_IS 0x801, 0x801
    CHECK "shl 81 by 1: CF OF"
    cmp al, 2
    CHECK "shl 81 by 1 = 02"
    stc
    mov al, 1
    rcr al, 1
    FLAGS_IS 0x001, 0x001
    CHECK "rcr 1 through CF: CF out"
    cmp al, 0x80
    CHECK "rcr 1 with CF = 80"
    mov ax, 0x1234
    rol ax, 4
    cmp ax, 0x2341
    CHECK "rol 1234 by 4"
    mov al, 0x80
    sar al, 3
    cmp al, 0xf0
    CHECK "sar 80 by 3"
    mov al, 0x80
    mov cl, 9
    rcl al, cl                     ; 9-bit rotate by 9 = identity
    cmp al, 0x80
    CHECK "rcl byte by 9 is the identity"
    mov ax, 0x1234
    mov dx, 0xabcd
    shld ax, dx, 4
    cmp ax, 0x234a
    CHECK "shld 1234:ABCD by 4"
    mov ax, 0x1234
    shrd ax, dx, 4
    cmp ax, 0xd123
    CHECK "shrd 1234,ABCD by 4"
    mov al, 0x55
    clc
    shl al, 0                      ; count 0: flags unchanged
    FLAGS_IS 0x001, 0
    CHECK "shift by 0 leaves flags"

    ; --- bit operations ---
    mov ax, 0x10
    bt ax, 4
    FLAGS_IS 0x001, 0x001
    CHECK "bt bit 4"
    bts ax, 0
    cmp ax, 0x11
    CHECK "bts sets bit 0"
    btr ax, 4
    cmp ax, 0x01
    CHECK "btr clears bit 4"
    btc ax, 15
    cmp ax, 0x8001
    CHECK "btc toggles bit 15"
    mov ax, 0x0100
    bsf cx, ax
    cmp cx, 8
    CHECK "bsf 0100 = 8"
    mov ax, 0x8001
    bsr cx, ax
    cmp cx, 15
    CHECK "bsr 8001 = 15"
    xor ax, ax
    bsf cx, ax
    CHECK "bsf 0 sets ZF"

    ; --- BCD ---
    mov al, 0x19
    add al, 0x28
    daa
    cmp al, 0x47
    CHECK "daa 19+28 = 47"
    mov al, 0x47
    sub al, 0x28
    das
    cmp al, 0x19
    CHECK "das 47-28 = 19"
    mov ax, 0x0009
    add al, 3
    aaa
    cmp ax, 0x0102
    CHECK "aaa 9+3 = 0102"
    mov ax, 0x0102
    sub al, 3
    aas
    cmp ax, 0x0009
    CHECK "aas 12-3 = 0009"
    mov al, 47
    aam
    cmp ax, 0x0407
    CHECK "aam 47 = 0407"
    aad
    cmp ax, 47
    CHECK "aad 0407 = 47"

    ; --- conversions, conditional ops, exchange ---
    mov al, 0x80
    cbw
    cmp ax, 0xff80
    CHECK "cbw 80"
    mov ax, 0x8000
    cwd
    cmp dx, 0xffff
    CHECK "cwd 8000"
    mov al, 5
    cmp al, 7
    setb cl
    cmp cl, 1
    CHECK "setb after 5<7"
    mov bx, 0x1111
    mov dx, 0x2222
    cmp al, 7
    cmova dx, bx
    cmp dx, 0x2222
    CHECK "cmova not taken"
    cmp al, 7
    cmovb dx, bx
    cmp dx, 0x1111
    CHECK "cmovb taken"
    mov ax, 5
    mov bx, 3
    xadd ax, bx
    cmp ax, 8
    CHECK "xadd sum"
    cmp bx, 5
    CHECK "xadd old value"
    mov ax, 5
    mov bx, 5
    mov cx, 9
    cmpxchg bx, cx
    CHECK "cmpxchg equal sets ZF"
    cmp bx, 9
    CHECK "cmpxchg stored the source"
    mov ax, 1
    cmpxchg bx, cx
    cmp ax, 9
    CHECK "cmpxchg unequal loads AX"

    ; --- 32-bit operands in real mode ---
    mov eax, 0x12345678
    bswap eax
    cmp eax, 0x78563412
    CHECK "bswap eax"
    mov eax, 0xffffffff
    add eax, 1
    FLAGS_IS 0x041, 0x041
    CHECK "32-bit add carries out"
    mov ecx, 0x10000
    imul ecx, ecx, 3
    cmp ecx, 0x30000
    CHECK "32-bit imul"
    movzx eax, byte [cs:byte_ff]
    cmp eax, 0xff
    CHECK "movzx byte"
    movsx eax, byte [cs:byte_ff]
    cmp eax, -1
    CHECK "movsx byte"

ROM_END

de_handler:
    push bp
    mov bp, sp
    add word [bp+2], 2             ; skip the faulting DIV r/m8 (2 bytes)
    push es
    push ax
    xor ax, ax
    mov es, ax
    inc word [es:0x502]
    pop ax
    pop es
    pop bp
    iret

byte_ff: db 0xff

ROM_FOOTER
