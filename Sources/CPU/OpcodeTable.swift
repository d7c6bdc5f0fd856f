// The opcode table: the single source of truth for decoding.
//
// Each line: KEY MNEMONIC OPERANDS ATTRIBUTES
//   KEY       [NP|66|F3|F2] [0F|0F38|0F3A] XX[/r][.m|.r|.rN]
//             a prefix token selects a mandatory-prefix variant; /r a ModRM.reg group member;
//             .m / .r restrict to memory / register forms; .rN to register form with ModRM.rm = N.
//   OPERANDS  Intel-manual notation (Eb, Gv, Iz, Jb, Ap, Ob, Sw, Cd, Vx, Wx, ...), comma separated,
//             or '-' for none. Fixed registers: AL, CL, DX, rAX, eAX, ES..GS, 1.
//   ATTRS     w:FLAGS written, r:FLAGS read, u:FLAGS left undefined (FLAGS from ODITSZAPC);
//             lock (LOCK allowed), rep (REP meaningful), end (ends a translation block),
//             i64 (invalid in 64-bit mode), o64 (64-bit mode only), d64 (64-bit default operand
//             size in long mode), f64 (operand size forced to 64 in long mode), priv (CPL 0 only),
//             feat:NAME (CPUID feature needed), norep (#UD with an F2/F3 prefix that selects
//             no variant). A leading NP: #UD with any 66/F2/F3 that selects no variant (implied
//             for MMX/SSE forms).
// Mnemonics the interpreter does not execute yet decode normally and raise #UD when run
// (counted in CPUState.ud_count).

let opcodeTableText = """
# ---- one-byte map --------------------------------------------------------------------------
00 ADD Eb,Gb w:OSZAPC lock
01 ADD Ev,Gv w:OSZAPC lock
02 ADD Gb,Eb w:OSZAPC
03 ADD Gv,Ev w:OSZAPC
04 ADD AL,Ib w:OSZAPC
05 ADD rAX,Iz w:OSZAPC
06 PUSH ES i64
07 POP ES i64
08 OR Eb,Gb w:OSZAPC u:A lock
09 OR Ev,Gv w:OSZAPC u:A lock
0A OR Gb,Eb w:OSZAPC u:A
0B OR Gv,Ev w:OSZAPC u:A
0C OR AL,Ib w:OSZAPC u:A
0D OR rAX,Iz w:OSZAPC u:A
0E PUSH CS i64
10 ADC Eb,Gb r:C w:OSZAPC lock
11 ADC Ev,Gv r:C w:OSZAPC lock
12 ADC Gb,Eb r:C w:OSZAPC
13 ADC Gv,Ev r:C w:OSZAPC
14 ADC AL,Ib r:C w:OSZAPC
15 ADC rAX,Iz r:C w:OSZAPC
16 PUSH SS i64
17 POP SS i64 end
18 SBB Eb,Gb r:C w:OSZAPC lock
19 SBB Ev,Gv r:C w:OSZAPC lock
1A SBB Gb,Eb r:C w:OSZAPC
1B SBB Gv,Ev r:C w:OSZAPC
1C SBB AL,Ib r:C w:OSZAPC
1D SBB rAX,Iz r:C w:OSZAPC
1E PUSH DS i64
1F POP DS i64
20 AND Eb,Gb w:OSZAPC u:A lock
21 AND Ev,Gv w:OSZAPC u:A lock
22 AND Gb,Eb w:OSZAPC u:A
23 AND Gv,Ev w:OSZAPC u:A
24 AND AL,Ib w:OSZAPC u:A
25 AND rAX,Iz w:OSZAPC u:A
27 DAA - r:AC w:OSZAPC u:O i64
28 SUB Eb,Gb w:OSZAPC lock
29 SUB Ev,Gv w:OSZAPC lock
2A SUB Gb,Eb w:OSZAPC
2B SUB Gv,Ev w:OSZAPC
2C SUB AL,Ib w:OSZAPC
2D SUB rAX,Iz w:OSZAPC
2F DAS - r:AC w:OSZAPC u:O i64
30 XOR Eb,Gb w:OSZAPC u:A lock
31 XOR Ev,Gv w:OSZAPC u:A lock
32 XOR Gb,Eb w:OSZAPC u:A
33 XOR Gv,Ev w:OSZAPC u:A
34 XOR AL,Ib w:OSZAPC u:A
35 XOR rAX,Iz w:OSZAPC u:A
37 AAA - r:A w:OSZAPC u:OSZP i64
38 CMP Eb,Gb w:OSZAPC
39 CMP Ev,Gv w:OSZAPC
3A CMP Gb,Eb w:OSZAPC
3B CMP Gv,Ev w:OSZAPC
3C CMP AL,Ib w:OSZAPC
3D CMP rAX,Iz w:OSZAPC
3F AAS - r:A w:OSZAPC u:OSZP i64
40 INC Zv w:OSZAP i64
41 INC Zv w:OSZAP i64
42 INC Zv w:OSZAP i64
43 INC Zv w:OSZAP i64
44 INC Zv w:OSZAP i64
45 INC Zv w:OSZAP i64
46 INC Zv w:OSZAP i64
47 INC Zv w:OSZAP i64
48 DEC Zv w:OSZAP i64
49 DEC Zv w:OSZAP i64
4A DEC Zv w:OSZAP i64
4B DEC Zv w:OSZAP i64
4C DEC Zv w:OSZAP i64
4D DEC Zv w:OSZAP i64
4E DEC Zv w:OSZAP i64
4F DEC Zv w:OSZAP i64
50 PUSH Zv d64
51 PUSH Zv d64
52 PUSH Zv d64
53 PUSH Zv d64
54 PUSH Zv d64
55 PUSH Zv d64
56 PUSH Zv d64
57 PUSH Zv d64
58 POP Zv d64
59 POP Zv d64
5A POP Zv d64
5B POP Zv d64
5C POP Zv d64
5D POP Zv d64
5E POP Zv d64
5F POP Zv d64
60 PUSHA - i64
61 POPA - i64
62 BOUND Gv,Ma i64
63 ARPL Ew,Gw w:Z i64
63 MOVSXD Gv,Ed o64
68 PUSH Iz d64
69 IMUL Gv,Ev,Iz w:OSZAPC u:SZAP
6A PUSH Ibs d64
6B IMUL Gv,Ev,Ibs w:OSZAPC u:SZAP
6C INS Yb,DX rep
6D INS Yz,DX rep
6E OUTS DX,Xb rep
6F OUTS DX,Xz rep
70 JO Jb r:O end f64
71 JNO Jb r:O end f64
72 JB Jb r:C end f64
73 JNB Jb r:C end f64
74 JZ Jb r:Z end f64
75 JNZ Jb r:Z end f64
76 JBE Jb r:CZ end f64
77 JNBE Jb r:CZ end f64
78 JS Jb r:S end f64
79 JNS Jb r:S end f64
7A JP Jb r:P end f64
7B JNP Jb r:P end f64
7C JL Jb r:SO end f64
7D JNL Jb r:SO end f64
7E JLE Jb r:SZO end f64
7F JNLE Jb r:SZO end f64
80/0 ADD Eb,Ib w:OSZAPC lock
80/1 OR Eb,Ib w:OSZAPC u:A lock
80/2 ADC Eb,Ib r:C w:OSZAPC lock
80/3 SBB Eb,Ib r:C w:OSZAPC lock
80/4 AND Eb,Ib w:OSZAPC u:A lock
80/5 SUB Eb,Ib w:OSZAPC lock
80/6 XOR Eb,Ib w:OSZAPC u:A lock
80/7 CMP Eb,Ib w:OSZAPC
81/0 ADD Ev,Iz w:OSZAPC lock
81/1 OR Ev,Iz w:OSZAPC u:A lock
81/2 ADC Ev,Iz r:C w:OSZAPC lock
81/3 SBB Ev,Iz r:C w:OSZAPC lock
81/4 AND Ev,Iz w:OSZAPC u:A lock
81/5 SUB Ev,Iz w:OSZAPC lock
81/6 XOR Ev,Iz w:OSZAPC u:A lock
81/7 CMP Ev,Iz w:OSZAPC
82/0 ADD Eb,Ib w:OSZAPC lock i64
82/1 OR Eb,Ib w:OSZAPC u:A lock i64
82/2 ADC Eb,Ib r:C w:OSZAPC lock i64
82/3 SBB Eb,Ib r:C w:OSZAPC lock i64
82/4 AND Eb,Ib w:OSZAPC u:A lock i64
82/5 SUB Eb,Ib w:OSZAPC lock i64
82/6 XOR Eb,Ib w:OSZAPC u:A lock i64
82/7 CMP Eb,Ib w:OSZAPC i64
83/0 ADD Ev,Ibs w:OSZAPC lock
83/1 OR Ev,Ibs w:OSZAPC u:A lock
83/2 ADC Ev,Ibs r:C w:OSZAPC lock
83/3 SBB Ev,Ibs r:C w:OSZAPC lock
83/4 AND Ev,Ibs w:OSZAPC u:A lock
83/5 SUB Ev,Ibs w:OSZAPC lock
83/6 XOR Ev,Ibs w:OSZAPC u:A lock
83/7 CMP Ev,Ibs w:OSZAPC
84 TEST Eb,Gb w:OSZAPC u:A
85 TEST Ev,Gv w:OSZAPC u:A
86 XCHG Eb,Gb lock
87 XCHG Ev,Gv lock
88 MOV Eb,Gb
89 MOV Ev,Gv
8A MOV Gb,Eb
8B MOV Gv,Ev
8C MOV Ev,Sw
8D LEA Gv,M
8E MOV Sw,Ew end
8F/0 POP Ev d64
90 XCHG Zv,rAX
91 XCHG Zv,rAX
92 XCHG Zv,rAX
93 XCHG Zv,rAX
94 XCHG Zv,rAX
95 XCHG Zv,rAX
96 XCHG Zv,rAX
97 XCHG Zv,rAX
98 CBW -
99 CWD -
9A CALLF Ap i64 end
9B FWAIT -
9C PUSHF - r:ODITSZAPC d64
9D POPF - w:ODITSZAPC d64 end
9E SAHF - w:SZAPC
9F LAHF - r:SZAPC
A0 MOV AL,Ob
A1 MOV rAX,Ov
A2 MOV Ob,AL
A3 MOV Ov,rAX
A4 MOVS Yb,Xb r:D rep
A5 MOVS Yv,Xv r:D rep
A6 CMPS Xb,Yb r:D w:OSZAPC rep
A7 CMPS Xv,Yv r:D w:OSZAPC rep
A8 TEST AL,Ib w:OSZAPC u:A
A9 TEST rAX,Iz w:OSZAPC u:A
AA STOS Yb,AL r:D rep
AB STOS Yv,rAX r:D rep
AC LODS AL,Xb r:D rep
AD LODS rAX,Xv r:D rep
AE SCAS AL,Yb r:D w:OSZAPC rep
AF SCAS rAX,Yv r:D w:OSZAPC rep
B0 MOV Zb,Ib
B1 MOV Zb,Ib
B2 MOV Zb,Ib
B3 MOV Zb,Ib
B4 MOV Zb,Ib
B5 MOV Zb,Ib
B6 MOV Zb,Ib
B7 MOV Zb,Ib
B8 MOV Zv,Iv
B9 MOV Zv,Iv
BA MOV Zv,Iv
BB MOV Zv,Iv
BC MOV Zv,Iv
BD MOV Zv,Iv
BE MOV Zv,Iv
BF MOV Zv,Iv
C0/0 ROL Eb,Ib w:OC u:O
C0/1 ROR Eb,Ib w:OC u:O
C0/2 RCL Eb,Ib r:C w:OC u:O
C0/3 RCR Eb,Ib r:C w:OC u:O
C0/4 SHL Eb,Ib w:OSZAPC u:OA
C0/5 SHR Eb,Ib w:OSZAPC u:OA
C0/6 SHL Eb,Ib w:OSZAPC u:OA
C0/7 SAR Eb,Ib w:OSZAPC u:OA
C1/0 ROL Ev,Ib w:OC u:O
C1/1 ROR Ev,Ib w:OC u:O
C1/2 RCL Ev,Ib r:C w:OC u:O
C1/3 RCR Ev,Ib r:C w:OC u:O
C1/4 SHL Ev,Ib w:OSZAPC u:OA
C1/5 SHR Ev,Ib w:OSZAPC u:OA
C1/6 SHL Ev,Ib w:OSZAPC u:OA
C1/7 SAR Ev,Ib w:OSZAPC u:OA
C2 RET Iw f64 end
C3 RET - f64 end
C4 LES Gz,Mp i64
C5 LDS Gz,Mp i64
C6/0 MOV Eb,Ib
C7/0 MOV Ev,Iz
C8 ENTER Iw,Ib d64
C9 LEAVE - d64
CA RETF Iw end
CB RETF - end
CC INT3 - end
CD INT Ib end
CE INTO - r:O end i64
CF IRET - w:ODITSZAPC end
D0/0 ROL Eb,1 w:OC
D0/1 ROR Eb,1 w:OC
D0/2 RCL Eb,1 r:C w:OC
D0/3 RCR Eb,1 r:C w:OC
D0/4 SHL Eb,1 w:OSZAPC u:A
D0/5 SHR Eb,1 w:OSZAPC u:A
D0/6 SHL Eb,1 w:OSZAPC u:A
D0/7 SAR Eb,1 w:OSZAPC u:A
D1/0 ROL Ev,1 w:OC
D1/1 ROR Ev,1 w:OC
D1/2 RCL Ev,1 r:C w:OC
D1/3 RCR Ev,1 r:C w:OC
D1/4 SHL Ev,1 w:OSZAPC u:A
D1/5 SHR Ev,1 w:OSZAPC u:A
D1/6 SHL Ev,1 w:OSZAPC u:A
D1/7 SAR Ev,1 w:OSZAPC u:A
D2/0 ROL Eb,CL w:OC u:O
D2/1 ROR Eb,CL w:OC u:O
D2/2 RCL Eb,CL r:C w:OC u:O
D2/3 RCR Eb,CL r:C w:OC u:O
D2/4 SHL Eb,CL w:OSZAPC u:OA
D2/5 SHR Eb,CL w:OSZAPC u:OA
D2/6 SHL Eb,CL w:OSZAPC u:OA
D2/7 SAR Eb,CL w:OSZAPC u:OA
D3/0 ROL Ev,CL w:OC u:O
D3/1 ROR Ev,CL w:OC u:O
D3/2 RCL Ev,CL r:C w:OC u:O
D3/3 RCR Ev,CL r:C w:OC u:O
D3/4 SHL Ev,CL w:OSZAPC u:OA
D3/5 SHR Ev,CL w:OSZAPC u:OA
D3/6 SHL Ev,CL w:OSZAPC u:OA
D3/7 SAR Ev,CL w:OSZAPC u:OA
D4 AAM Ib w:OSZAPC u:OAC i64
D5 AAD Ib w:OSZAPC u:OAC i64
D6 SALC - r:C i64
D7 XLAT -
D8 FPU Ex
D9 FPU Ex
DA FPU Ex
DB FPU Ex
DC FPU Ex
DD FPU Ex
DE FPU Ex
DF FPU Ex
E0 LOOPNE Jb r:Z end f64
E1 LOOPE Jb r:Z end f64
E2 LOOP Jb end f64
E3 JCXZ Jb end f64
E4 IN AL,Ib
E5 IN eAX,Ib
E6 OUT Ib,AL
E7 OUT Ib,eAX
E8 CALL Jz f64 end
E9 JMP Jz f64 end
EA JMPF Ap i64 end
EB JMP Jb f64 end
EC IN AL,DX
ED IN eAX,DX
EE OUT DX,AL
EF OUT DX,eAX
F1 INT1 - end
F4 HLT - priv end
F5 CMC - r:C w:C
F6/0 TEST Eb,Ib w:OSZAPC u:A
F6/1 TEST Eb,Ib w:OSZAPC u:A
F6/2 NOT Eb lock
F6/3 NEG Eb w:OSZAPC lock
F6/4 MUL Eb w:OSZAPC u:SZAP
F6/5 IMUL Eb w:OSZAPC u:SZAP
F6/6 DIV Eb w:OSZAPC u:OSZAPC
F6/7 IDIV Eb w:OSZAPC u:OSZAPC
F7/0 TEST Ev,Iz w:OSZAPC u:A
F7/1 TEST Ev,Iz w:OSZAPC u:A
F7/2 NOT Ev lock
F7/3 NEG Ev w:OSZAPC lock
F7/4 MUL Ev w:OSZAPC u:SZAP
F7/5 IMUL Ev w:OSZAPC u:SZAP
F7/6 DIV Ev w:OSZAPC u:OSZAPC
F7/7 IDIV Ev w:OSZAPC u:OSZAPC
F8 CLC - w:C
F9 STC - w:C
FA CLI - w:I
FB STI - w:I end
FC CLD - w:D
FD STD - w:D
FE/0 INC Eb w:OSZAP lock
FE/1 DEC Eb w:OSZAP lock
FF/0 INC Ev w:OSZAP lock
FF/1 DEC Ev w:OSZAP lock
FF/2 CALL Ev f64 end
FF/3 CALLF Mp end
FF/4 JMP Ev f64 end
FF/5 JMPF Mp end
FF/6 PUSH Ev d64
# ---- two-byte map (0F) -----------------------------------------------------------------------
0F 00/0 SLDT Ev
0F 00/1 STR Ev
0F 00/2 LLDT Ew priv
0F 00/3 LTR Ew priv
0F 00/4 VERR Ew w:Z
0F 00/5 VERW Ew w:Z
0F 01/0.m SGDT Ms
0F 01/1.m SIDT Ms
0F 01/2.m LGDT Ms priv end
0F 01/3.m LIDT Ms priv end
0F 01/4 SMSW Ev
0F 01/6 LMSW Ew priv end
0F 01/7.m INVLPG Mb priv end
NP 0F 01/1.r0 MONITOR -
NP 0F 01/1.r1 MWAIT - end
NP 0F 01/1.r2 CLAC - w:A
NP 0F 01/1.r3 STAC - w:A
NP 0F 01/2.r0 XGETBV -
NP 0F 01/2.r1 XSETBV - priv end
0F 01/7.r0 SWAPGS - o64 priv
NP 0F 01/7.r1 RDTSCP -
0F 02 LAR Gv,Ew w:Z
0F 03 LSL Gv,Ew w:Z
0F 05 SYSCALL - end
0F 06 CLTS - priv
0F 07 SYSRET - end
0F 08 INVD - priv
0F 09 WBINVD - priv
0F 0B UD2 - end
0F 0D/0 PREFETCH Mb
0F 0D/1 PREFETCHW Mb
0F 0D/2 PREFETCH Mb
0F 0D/3 PREFETCH Mb
0F 0D/4 PREFETCH Mb
0F 0D/5 PREFETCH Mb
0F 0D/6 PREFETCH Mb
0F 0D/7 PREFETCH Mb
0F 10 MOVUPS Vps,Wps feat:sse
66 0F 10 MOVUPD Vpd,Wpd feat:sse2
F3 0F 10 MOVSS Vss,Wss feat:sse
F2 0F 10 MOVSD Vsd,Wsd feat:sse2
0F 11 MOVUPS Wps,Vps feat:sse
66 0F 11 MOVUPD Wpd,Vpd feat:sse2
F3 0F 11 MOVSS Wss,Vss feat:sse
F2 0F 11 MOVSD Wsd,Vsd feat:sse2
0F 12 MOVLPS Vq,Wq feat:sse
66 0F 12 MOVLPD Vq,Mq feat:sse2
F3 0F 12 MOVSLDUP Vx,Wx feat:sse3
F2 0F 12 MOVDDUP Vx,Wx feat:sse3
0F 13 MOVLPS Mq,Vq feat:sse
66 0F 13 MOVLPD Mq,Vq feat:sse2
0F 14 UNPCKLPS Vx,Wx feat:sse
66 0F 14 UNPCKLPD Vx,Wx feat:sse2
0F 15 UNPCKHPS Vx,Wx feat:sse
66 0F 15 UNPCKHPD Vx,Wx feat:sse2
0F 16 MOVHPS Vq,Wq feat:sse
66 0F 16 MOVHPD Vq,Mq feat:sse2
F3 0F 16 MOVSHDUP Vx,Wx feat:sse3
0F 17 MOVHPS Mq,Vq feat:sse
66 0F 17 MOVHPD Mq,Vq feat:sse2
0F 18/0 PREFETCH Mb
0F 18/1 PREFETCH Mb
0F 18/2 PREFETCH Mb
0F 18/3 PREFETCH Mb
0F 18/4 NOP Ev
0F 18/5 NOP Ev
0F 18/6 NOP Ev
0F 18/7 NOP Ev
0F 19 NOP Ev
0F 1A NOP Ev
0F 1B NOP Ev
0F 1C NOP Ev
0F 1D NOP Ev
0F 1E NOP Ev
0F 1F NOP Ev
0F 20 MOV Ry,Cy priv f64
0F 21 MOV Ry,Dy priv f64
0F 22 MOV Cy,Ry priv f64 end
0F 23 MOV Dy,Ry priv f64 end
0F 28 MOVAPS Vps,Wps feat:sse
66 0F 28 MOVAPD Vpd,Wpd feat:sse2
0F 29 MOVAPS Wps,Vps feat:sse
66 0F 29 MOVAPD Wpd,Vpd feat:sse2
0F 2A CVTPI2PS Vps,Qpi feat:sse
66 0F 2A CVTPI2PD Vpd,Qpi feat:sse2
F3 0F 2A CVTSI2SS Vss,Ey feat:sse
F2 0F 2A CVTSI2SD Vsd,Ey feat:sse2
0F 2B MOVNTPS Mps,Vps feat:sse
66 0F 2B MOVNTPD Mpd,Vpd feat:sse2
0F 2C CVTTPS2PI Ppi,Wps feat:sse
66 0F 2C CVTTPD2PI Ppi,Wpd feat:sse2
F3 0F 2C CVTTSS2SI Gy,Wss feat:sse
F2 0F 2C CVTTSD2SI Gy,Wsd feat:sse2
0F 2D CVTPS2PI Ppi,Wps feat:sse
66 0F 2D CVTPD2PI Ppi,Wpd feat:sse2
F3 0F 2D CVTSS2SI Gy,Wss feat:sse
F2 0F 2D CVTSD2SI Gy,Wsd feat:sse2
0F 2E UCOMISS Vss,Wss w:OSZAPC feat:sse
66 0F 2E UCOMISD Vsd,Wsd w:OSZAPC feat:sse2
0F 2F COMISS Vss,Wss w:OSZAPC feat:sse
66 0F 2F COMISD Vsd,Wsd w:OSZAPC feat:sse2
0F 30 WRMSR - priv end
0F 31 RDTSC -
0F 32 RDMSR - priv
0F 33 RDPMC -
0F 34 SYSENTER - end
0F 35 SYSEXIT - priv end
0F 37 GETSEC -
0F 40 CMOVO Gv,Ev r:O
0F 41 CMOVNO Gv,Ev r:O
0F 42 CMOVB Gv,Ev r:C
0F 43 CMOVNB Gv,Ev r:C
0F 44 CMOVZ Gv,Ev r:Z
0F 45 CMOVNZ Gv,Ev r:Z
0F 46 CMOVBE Gv,Ev r:CZ
0F 47 CMOVNBE Gv,Ev r:CZ
0F 48 CMOVS Gv,Ev r:S
0F 49 CMOVNS Gv,Ev r:S
0F 4A CMOVP Gv,Ev r:P
0F 4B CMOVNP Gv,Ev r:P
0F 4C CMOVL Gv,Ev r:SO
0F 4D CMOVNL Gv,Ev r:SO
0F 4E CMOVLE Gv,Ev r:SZO
0F 4F CMOVNLE Gv,Ev r:SZO
0F 50 MOVMSKPS Gd,Ups feat:sse
66 0F 50 MOVMSKPD Gd,Upd feat:sse2
0F 51 SQRTPS Vps,Wps feat:sse
66 0F 51 SQRTPD Vpd,Wpd feat:sse2
F3 0F 51 SQRTSS Vss,Wss feat:sse
F2 0F 51 SQRTSD Vsd,Wsd feat:sse2
0F 52 RSQRTPS Vps,Wps feat:sse
F3 0F 52 RSQRTSS Vss,Wss feat:sse
0F 53 RCPPS Vps,Wps feat:sse
F3 0F 53 RCPSS Vss,Wss feat:sse
0F 54 ANDPS Vps,Wps feat:sse
66 0F 54 ANDPD Vpd,Wpd feat:sse2
0F 55 ANDNPS Vps,Wps feat:sse
66 0F 55 ANDNPD Vpd,Wpd feat:sse2
0F 56 ORPS Vps,Wps feat:sse
66 0F 56 ORPD Vpd,Wpd feat:sse2
0F 57 XORPS Vps,Wps feat:sse
66 0F 57 XORPD Vpd,Wpd feat:sse2
0F 58 ADDPS Vps,Wps feat:sse
66 0F 58 ADDPD Vpd,Wpd feat:sse2
F3 0F 58 ADDSS Vss,Wss feat:sse
F2 0F 58 ADDSD Vsd,Wsd feat:sse2
0F 59 MULPS Vps,Wps feat:sse
66 0F 59 MULPD Vpd,Wpd feat:sse2
F3 0F 59 MULSS Vss,Wss feat:sse
F2 0F 59 MULSD Vsd,Wsd feat:sse2
0F 5A CVTPS2PD Vpd,Wps feat:sse2
66 0F 5A CVTPD2PS Vps,Wpd feat:sse2
F3 0F 5A CVTSS2SD Vsd,Wss feat:sse2
F2 0F 5A CVTSD2SS Vss,Wsd feat:sse2
0F 5B CVTDQ2PS Vps,Wdq feat:sse2
66 0F 5B CVTPS2DQ Vdq,Wps feat:sse2
F3 0F 5B CVTTPS2DQ Vdq,Wps feat:sse2
0F 5C SUBPS Vps,Wps feat:sse
66 0F 5C SUBPD Vpd,Wpd feat:sse2
F3 0F 5C SUBSS Vss,Wss feat:sse
F2 0F 5C SUBSD Vsd,Wsd feat:sse2
0F 5D MINPS Vps,Wps feat:sse
66 0F 5D MINPD Vpd,Wpd feat:sse2
F3 0F 5D MINSS Vss,Wss feat:sse
F2 0F 5D MINSD Vsd,Wsd feat:sse2
0F 5E DIVPS Vps,Wps feat:sse
66 0F 5E DIVPD Vpd,Wpd feat:sse2
F3 0F 5E DIVSS Vss,Wss feat:sse
F2 0F 5E DIVSD Vsd,Wsd feat:sse2
0F 5F MAXPS Vps,Wps feat:sse
66 0F 5F MAXPD Vpd,Wpd feat:sse2
F3 0F 5F MAXSS Vss,Wss feat:sse
F2 0F 5F MAXSD Vsd,Wsd feat:sse2
0F 60 PUNPCKLBW Pq,Qd feat:mmx
66 0F 60 PUNPCKLBW Vx,Wx feat:sse2
0F 61 PUNPCKLWD Pq,Qd feat:mmx
66 0F 61 PUNPCKLWD Vx,Wx feat:sse2
0F 62 PUNPCKLDQ Pq,Qd feat:mmx
66 0F 62 PUNPCKLDQ Vx,Wx feat:sse2
0F 63 PACKSSWB Pq,Qq feat:mmx
66 0F 63 PACKSSWB Vx,Wx feat:sse2
0F 64 PCMPGTB Pq,Qq feat:mmx
66 0F 64 PCMPGTB Vx,Wx feat:sse2
0F 65 PCMPGTW Pq,Qq feat:mmx
66 0F 65 PCMPGTW Vx,Wx feat:sse2
0F 66 PCMPGTD Pq,Qq feat:mmx
66 0F 66 PCMPGTD Vx,Wx feat:sse2
0F 67 PACKUSWB Pq,Qq feat:mmx
66 0F 67 PACKUSWB Vx,Wx feat:sse2
0F 68 PUNPCKHBW Pq,Qq feat:mmx
66 0F 68 PUNPCKHBW Vx,Wx feat:sse2
0F 69 PUNPCKHWD Pq,Qq feat:mmx
66 0F 69 PUNPCKHWD Vx,Wx feat:sse2
0F 6A PUNPCKHDQ Pq,Qq feat:mmx
66 0F 6A PUNPCKHDQ Vx,Wx feat:sse2
0F 6B PACKSSDW Pq,Qq feat:mmx
66 0F 6B PACKSSDW Vx,Wx feat:sse2
66 0F 6C PUNPCKLQDQ Vx,Wx feat:sse2
66 0F 6D PUNPCKHQDQ Vx,Wx feat:sse2
0F 6E MOVD Pq,Ey feat:mmx
66 0F 6E MOVD Vx,Ey feat:sse2
0F 6F MOVQ Pq,Qq feat:mmx
66 0F 6F MOVDQA Vx,Wx feat:sse2
F3 0F 6F MOVDQU Vx,Wx feat:sse2
0F 70 PSHUFW Pq,Qq,Ib feat:sse
66 0F 70 PSHUFD Vx,Wx,Ib feat:sse2
F3 0F 70 PSHUFHW Vx,Wx,Ib feat:sse2
F2 0F 70 PSHUFLW Vx,Wx,Ib feat:sse2
0F 71/2.r PSRLW Nq,Ib feat:mmx
0F 71/4.r PSRAW Nq,Ib feat:mmx
0F 71/6.r PSLLW Nq,Ib feat:mmx
66 0F 71/2.r PSRLW Ux,Ib feat:sse2
66 0F 71/4.r PSRAW Ux,Ib feat:sse2
66 0F 71/6.r PSLLW Ux,Ib feat:sse2
0F 72/2.r PSRLD Nq,Ib feat:mmx
0F 72/4.r PSRAD Nq,Ib feat:mmx
0F 72/6.r PSLLD Nq,Ib feat:mmx
66 0F 72/2.r PSRLD Ux,Ib feat:sse2
66 0F 72/4.r PSRAD Ux,Ib feat:sse2
66 0F 72/6.r PSLLD Ux,Ib feat:sse2
0F 73/2.r PSRLQ Nq,Ib feat:mmx
0F 73/6.r PSLLQ Nq,Ib feat:mmx
66 0F 73/2.r PSRLQ Ux,Ib feat:sse2
66 0F 73/3.r PSRLDQ Ux,Ib feat:sse2
66 0F 73/6.r PSLLQ Ux,Ib feat:sse2
66 0F 73/7.r PSLLDQ Ux,Ib feat:sse2
0F 74 PCMPEQB Pq,Qq feat:mmx
66 0F 74 PCMPEQB Vx,Wx feat:sse2
0F 75 PCMPEQW Pq,Qq feat:mmx
66 0F 75 PCMPEQW Vx,Wx feat:sse2
0F 76 PCMPEQD Pq,Qq feat:mmx
66 0F 76 PCMPEQD Vx,Wx feat:sse2
NP 0F 77 EMMS - feat:mmx
66 0F 7C HADDPD Vpd,Wpd feat:sse3
F2 0F 7C HADDPS Vps,Wps feat:sse3
66 0F 7D HSUBPD Vpd,Wpd feat:sse3
F2 0F 7D HSUBPS Vps,Wps feat:sse3
0F 7E MOVD Ey,Pq feat:mmx
66 0F 7E MOVD Ey,Vx feat:sse2
F3 0F 7E MOVQ Vq,Wq feat:sse2
0F 7F MOVQ Qq,Pq feat:mmx
66 0F 7F MOVDQA Wx,Vx feat:sse2
F3 0F 7F MOVDQU Wx,Vx feat:sse2
0F 80 JO Jz r:O end f64
0F 81 JNO Jz r:O end f64
0F 82 JB Jz r:C end f64
0F 83 JNB Jz r:C end f64
0F 84 JZ Jz r:Z end f64
0F 85 JNZ Jz r:Z end f64
0F 86 JBE Jz r:CZ end f64
0F 87 JNBE Jz r:CZ end f64
0F 88 JS Jz r:S end f64
0F 89 JNS Jz r:S end f64
0F 8A JP Jz r:P end f64
0F 8B JNP Jz r:P end f64
0F 8C JL Jz r:SO end f64
0F 8D JNL Jz r:SO end f64
0F 8E JLE Jz r:SZO end f64
0F 8F JNLE Jz r:SZO end f64
0F 90 SETO Eb r:O
0F 91 SETNO Eb r:O
0F 92 SETB Eb r:C
0F 93 SETNB Eb r:C
0F 94 SETZ Eb r:Z
0F 95 SETNZ Eb r:Z
0F 96 SETBE Eb r:CZ
0F 97 SETNBE Eb r:CZ
0F 98 SETS Eb r:S
0F 99 SETNS Eb r:S
0F 9A SETP Eb r:P
0F 9B SETNP Eb r:P
0F 9C SETL Eb r:SO
0F 9D SETNL Eb r:SO
0F 9E SETLE Eb r:SZO
0F 9F SETNLE Eb r:SZO
0F A0 PUSH FS d64
0F A1 POP FS d64
0F A2 CPUID -
0F A3 BT Ev,Gv w:C u:OSAP
0F A4 SHLD Ev,Gv,Ib w:OSZAPC u:OA
0F A5 SHLD Ev,Gv,CL w:OSZAPC u:OA
0F A8 PUSH GS d64
0F A9 POP GS d64
0F AA RSM - end
0F AB BTS Ev,Gv w:C u:OSAP lock
0F AC SHRD Ev,Gv,Ib w:OSZAPC u:OA
0F AD SHRD Ev,Gv,CL w:OSZAPC u:OA
NP 0F AE/0.m FXSAVE M feat:fxsr
NP 0F AE/1.m FXRSTOR M feat:fxsr
NP 0F AE/2.m LDMXCSR Md feat:sse
NP 0F AE/3.m STMXCSR Md feat:sse
NP 0F AE/4.m XSAVE M feat:xsave
NP 0F AE/5.m XRSTOR M feat:xsave
NP 0F AE/6.m XSAVEOPT M feat:xsave
NP 0F AE/7.m CLFLUSH Mb
66 0F AE/6.m CLWB Mb feat:clwb
66 0F AE/7.m CLFLUSHOPT Mb feat:clflushopt
NP 0F AE/5.r LFENCE -
NP 0F AE/6.r MFENCE -
NP 0F AE/7.r SFENCE -
F3 0F AE/0.r RDFSBASE Ry o64 feat:fsgsbase
F3 0F AE/1.r RDGSBASE Ry o64 feat:fsgsbase
F3 0F AE/2.r WRFSBASE Ry o64 feat:fsgsbase
F3 0F AE/3.r WRGSBASE Ry o64 feat:fsgsbase
0F AF IMUL Gv,Ev w:OSZAPC u:SZAP
0F B0 CMPXCHG Eb,Gb w:OSZAPC lock
0F B1 CMPXCHG Ev,Gv w:OSZAPC lock
0F B2 LSS Gv,Mp
0F B3 BTR Ev,Gv w:C u:OSAP lock
0F B4 LFS Gv,Mp
0F B5 LGS Gv,Mp
0F B6 MOVZX Gv,Eb
0F B7 MOVZX Gv,Ew
F3 0F B8 POPCNT Gv,Ev w:OSZAPC feat:popcnt
0F B9 UD1 Gv,Ev end
0F BA/4 BT Ev,Ib w:C u:OSAP
0F BA/5 BTS Ev,Ib w:C u:OSAP lock
0F BA/6 BTR Ev,Ib w:C u:OSAP lock
0F BA/7 BTC Ev,Ib w:C u:OSAP lock
0F BB BTC Ev,Gv w:C u:OSAP lock
0F BC BSF Gv,Ev w:OSZAPC u:OSAPC
F3 0F BC TZCNT Gv,Ev w:OSZAPC u:OSAP feat:bmi1
0F BD BSR Gv,Ev w:OSZAPC u:OSAPC
F3 0F BD LZCNT Gv,Ev w:OSZAPC u:OSAP feat:lzcnt
0F BE MOVSX Gv,Eb
0F BF MOVSX Gv,Ew
0F C0 XADD Eb,Gb w:OSZAPC lock
0F C1 XADD Ev,Gv w:OSZAPC lock
0F C2 CMPPS Vps,Wps,Ib feat:sse
66 0F C2 CMPPD Vpd,Wpd,Ib feat:sse2
F3 0F C2 CMPSS Vss,Wss,Ib feat:sse
F2 0F C2 CMPSD Vsd,Wsd,Ib feat:sse2
NP 0F C3 MOVNTI My,Gy feat:sse2
0F C4 PINSRW Pq,Ew,Ib feat:sse
66 0F C4 PINSRW Vx,Ew,Ib feat:sse2
0F C5 PEXTRW Gd,Nq,Ib feat:sse
66 0F C5 PEXTRW Gd,Ux,Ib feat:sse2
0F C6 SHUFPS Vps,Wps,Ib feat:sse
66 0F C6 SHUFPD Vpd,Wpd,Ib feat:sse2
0F C7/1.m CMPXCHG8B Mq w:Z lock
0F C7/6.r RDRAND Rv w:OSZAPC feat:rdrand norep
0F C7/7.r RDSEED Rv w:OSZAPC feat:rdseed norep
F3 0F C7/7.r RDPID Ry feat:rdpid
0F C8 BSWAP Zv
0F C9 BSWAP Zv
0F CA BSWAP Zv
0F CB BSWAP Zv
0F CC BSWAP Zv
0F CD BSWAP Zv
0F CE BSWAP Zv
0F CF BSWAP Zv
66 0F D0 ADDSUBPD Vpd,Wpd feat:sse3
F2 0F D0 ADDSUBPS Vps,Wps feat:sse3
0F D1 PSRLW Pq,Qq feat:mmx
66 0F D1 PSRLW Vx,Wx feat:sse2
0F D2 PSRLD Pq,Qq feat:mmx
66 0F D2 PSRLD Vx,Wx feat:sse2
0F D3 PSRLQ Pq,Qq feat:mmx
66 0F D3 PSRLQ Vx,Wx feat:sse2
0F D4 PADDQ Pq,Qq feat:sse2
66 0F D4 PADDQ Vx,Wx feat:sse2
0F D5 PMULLW Pq,Qq feat:mmx
66 0F D5 PMULLW Vx,Wx feat:sse2
66 0F D6 MOVQ Wq,Vq feat:sse2
F3 0F D6 MOVQ2DQ Vdq,Nq feat:sse2
F2 0F D6 MOVDQ2Q Pq,Uq feat:sse2
0F D7 PMOVMSKB Gd,Nq feat:sse
66 0F D7 PMOVMSKB Gd,Ux feat:sse2
0F D8 PSUBUSB Pq,Qq feat:mmx
66 0F D8 PSUBUSB Vx,Wx feat:sse2
0F D9 PSUBUSW Pq,Qq feat:mmx
66 0F D9 PSUBUSW Vx,Wx feat:sse2
0F DA PMINUB Pq,Qq feat:sse
66 0F DA PMINUB Vx,Wx feat:sse2
0F DB PAND Pq,Qq feat:mmx
66 0F DB PAND Vx,Wx feat:sse2
0F DC PADDUSB Pq,Qq feat:mmx
66 0F DC PADDUSB Vx,Wx feat:sse2
0F DD PADDUSW Pq,Qq feat:mmx
66 0F DD PADDUSW Vx,Wx feat:sse2
0F DE PMAXUB Pq,Qq feat:sse
66 0F DE PMAXUB Vx,Wx feat:sse2
0F DF PANDN Pq,Qq feat:mmx
66 0F DF PANDN Vx,Wx feat:sse2
0F E0 PAVGB Pq,Qq feat:sse
66 0F E0 PAVGB Vx,Wx feat:sse2
0F E1 PSRAW Pq,Qq feat:mmx
66 0F E1 PSRAW Vx,Wx feat:sse2
0F E2 PSRAD Pq,Qq feat:mmx
66 0F E2 PSRAD Vx,Wx feat:sse2
0F E3 PAVGW Pq,Qq feat:sse
66 0F E3 PAVGW Vx,Wx feat:sse2
0F E4 PMULHUW Pq,Qq feat:sse
66 0F E4 PMULHUW Vx,Wx feat:sse2
0F E5 PMULHW Pq,Qq feat:mmx
66 0F E5 PMULHW Vx,Wx feat:sse2
66 0F E6 CVTTPD2DQ Vx,Wpd feat:sse2
F3 0F E6 CVTDQ2PD Vx,Wpd feat:sse2
F2 0F E6 CVTPD2DQ Vx,Wpd feat:sse2
0F E7 MOVNTQ Mq,Pq feat:sse
66 0F E7 MOVNTDQ Mx,Vx feat:sse2
0F E8 PSUBSB Pq,Qq feat:mmx
66 0F E8 PSUBSB Vx,Wx feat:sse2
0F E9 PSUBSW Pq,Qq feat:mmx
66 0F E9 PSUBSW Vx,Wx feat:sse2
0F EA PMINSW Pq,Qq feat:sse
66 0F EA PMINSW Vx,Wx feat:sse2
0F EB POR Pq,Qq feat:mmx
66 0F EB POR Vx,Wx feat:sse2
0F EC PADDSB Pq,Qq feat:mmx
66 0F EC PADDSB Vx,Wx feat:sse2
0F ED PADDSW Pq,Qq feat:mmx
66 0F ED PADDSW Vx,Wx feat:sse2
0F EE PMAXSW Pq,Qq feat:sse
66 0F EE PMAXSW Vx,Wx feat:sse2
0F EF PXOR Pq,Qq feat:mmx
66 0F EF PXOR Vx,Wx feat:sse2
F2 0F F0 LDDQU Vx,Mx feat:sse3
0F F1 PSLLW Pq,Qq feat:mmx
66 0F F1 PSLLW Vx,Wx feat:sse2
0F F2 PSLLD Pq,Qq feat:mmx
66 0F F2 PSLLD Vx,Wx feat:sse2
0F F3 PSLLQ Pq,Qq feat:mmx
66 0F F3 PSLLQ Vx,Wx feat:sse2
0F F4 PMULUDQ Pq,Qq feat:sse2
66 0F F4 PMULUDQ Vx,Wx feat:sse2
0F F5 PMADDWD Pq,Qq feat:mmx
66 0F F5 PMADDWD Vx,Wx feat:sse2
0F F6 PSADBW Pq,Qq feat:sse
66 0F F6 PSADBW Vx,Wx feat:sse2
0F F7 MASKMOVQ Pq,Nq feat:sse
66 0F F7 MASKMOVDQU Vdq,Udq feat:sse2
0F F8 PSUBB Pq,Qq feat:mmx
66 0F F8 PSUBB Vx,Wx feat:sse2
0F F9 PSUBW Pq,Qq feat:mmx
66 0F F9 PSUBW Vx,Wx feat:sse2
0F FA PSUBD Pq,Qq feat:mmx
66 0F FA PSUBD Vx,Wx feat:sse2
0F FB PSUBQ Pq,Qq feat:sse2
66 0F FB PSUBQ Vx,Wx feat:sse2
0F FC PADDB Pq,Qq feat:mmx
66 0F FC PADDB Vx,Wx feat:sse2
0F FD PADDW Pq,Qq feat:mmx
66 0F FD PADDW Vx,Wx feat:sse2
0F FE PADDD Pq,Qq feat:mmx
66 0F FE PADDD Vx,Wx feat:sse2
0F FF UD0 Gv,Ev end
# ---- three-byte map 0F38 ---------------------------------------------------------------------
0F38 00 PSHUFB Pq,Qq feat:ssse3
66 0F38 00 PSHUFB Vx,Wx feat:ssse3
0F38 01 PHADDW Pq,Qq feat:ssse3
66 0F38 01 PHADDW Vx,Wx feat:ssse3
0F38 02 PHADDD Pq,Qq feat:ssse3
66 0F38 02 PHADDD Vx,Wx feat:ssse3
0F38 03 PHADDSW Pq,Qq feat:ssse3
66 0F38 03 PHADDSW Vx,Wx feat:ssse3
0F38 04 PMADDUBSW Pq,Qq feat:ssse3
66 0F38 04 PMADDUBSW Vx,Wx feat:ssse3
0F38 05 PHSUBW Pq,Qq feat:ssse3
66 0F38 05 PHSUBW Vx,Wx feat:ssse3
0F38 06 PHSUBD Pq,Qq feat:ssse3
66 0F38 06 PHSUBD Vx,Wx feat:ssse3
0F38 07 PHSUBSW Pq,Qq feat:ssse3
66 0F38 07 PHSUBSW Vx,Wx feat:ssse3
0F38 08 PSIGNB Pq,Qq feat:ssse3
66 0F38 08 PSIGNB Vx,Wx feat:ssse3
0F38 09 PSIGNW Pq,Qq feat:ssse3
66 0F38 09 PSIGNW Vx,Wx feat:ssse3
0F38 0A PSIGND Pq,Qq feat:ssse3
66 0F38 0A PSIGND Vx,Wx feat:ssse3
0F38 0B PMULHRSW Pq,Qq feat:ssse3
66 0F38 0B PMULHRSW Vx,Wx feat:ssse3
66 0F38 10 PBLENDVB Vdq,Wdq feat:sse4.1
66 0F38 14 BLENDVPS Vdq,Wdq feat:sse4.1
66 0F38 15 BLENDVPD Vdq,Wdq feat:sse4.1
66 0F38 17 PTEST Vdq,Wdq w:OSZAPC feat:sse4.1
0F38 1C PABSB Pq,Qq feat:ssse3
66 0F38 1C PABSB Vx,Wx feat:ssse3
0F38 1D PABSW Pq,Qq feat:ssse3
66 0F38 1D PABSW Vx,Wx feat:ssse3
0F38 1E PABSD Pq,Qq feat:ssse3
66 0F38 1E PABSD Vx,Wx feat:ssse3
66 0F38 20 PMOVSXBW Vx,Wq feat:sse4.1
66 0F38 21 PMOVSXBD Vx,Wd feat:sse4.1
66 0F38 22 PMOVSXBQ Vx,Ww feat:sse4.1
66 0F38 23 PMOVSXWD Vx,Wq feat:sse4.1
66 0F38 24 PMOVSXWQ Vx,Wd feat:sse4.1
66 0F38 25 PMOVSXDQ Vx,Wq feat:sse4.1
66 0F38 28 PMULDQ Vx,Wx feat:sse4.1
66 0F38 29 PCMPEQQ Vx,Wx feat:sse4.1
66 0F38 2A MOVNTDQA Vx,Mx feat:sse4.1
66 0F38 2B PACKUSDW Vx,Wx feat:sse4.1
66 0F38 30 PMOVZXBW Vx,Wq feat:sse4.1
66 0F38 31 PMOVZXBD Vx,Wd feat:sse4.1
66 0F38 32 PMOVZXBQ Vx,Ww feat:sse4.1
66 0F38 33 PMOVZXWD Vx,Wq feat:sse4.1
66 0F38 34 PMOVZXWQ Vx,Wd feat:sse4.1
66 0F38 35 PMOVZXDQ Vx,Wq feat:sse4.1
66 0F38 37 PCMPGTQ Vx,Wx feat:sse4.2
66 0F38 38 PMINSB Vx,Wx feat:sse4.1
66 0F38 39 PMINSD Vx,Wx feat:sse4.1
66 0F38 3A PMINUW Vx,Wx feat:sse4.1
66 0F38 3B PMINUD Vx,Wx feat:sse4.1
66 0F38 3C PMAXSB Vx,Wx feat:sse4.1
66 0F38 3D PMAXSD Vx,Wx feat:sse4.1
66 0F38 3E PMAXUW Vx,Wx feat:sse4.1
66 0F38 3F PMAXUD Vx,Wx feat:sse4.1
66 0F38 40 PMULLD Vx,Wx feat:sse4.1
66 0F38 41 PHMINPOSUW Vdq,Wdq feat:sse4.1
NP 0F38 C8 SHA1NEXTE Vdq,Wdq feat:sha
NP 0F38 C9 SHA1MSG1 Vdq,Wdq feat:sha
NP 0F38 CA SHA1MSG2 Vdq,Wdq feat:sha
NP 0F38 CB SHA256RNDS2 Vdq,Wdq feat:sha
NP 0F38 CC SHA256MSG1 Vdq,Wdq feat:sha
NP 0F38 CD SHA256MSG2 Vdq,Wdq feat:sha
66 0F38 DB AESIMC Vdq,Wdq feat:aes
66 0F38 DC AESENC Vdq,Wdq feat:aes
66 0F38 DD AESENCLAST Vdq,Wdq feat:aes
66 0F38 DE AESDEC Vdq,Wdq feat:aes
66 0F38 DF AESDECLAST Vdq,Wdq feat:aes
0F38 F0 MOVBE Gv,Mv feat:movbe norep
0F38 F1 MOVBE Mv,Gv feat:movbe norep
F2 0F38 F0 CRC32 Gy,Eb feat:sse4.2
F2 0F38 F1 CRC32 Gy,Ev feat:sse4.2
66 0F38 F6 ADCX Gy,Ey r:C w:C feat:adx
F3 0F38 F6 ADOX Gy,Ey r:O w:O feat:adx
# ---- VEX-encoded general-purpose instructions (BMI1, BMI2) ---------------------------------------
V NP 0F38 F2 ANDN Gy,By,Ey w:OSZAPC u:AP L0 feat:bmi1
V NP 0F38 F3/1 BLSR By,Ey w:OSZAPC u:AP L0 feat:bmi1
V NP 0F38 F3/2 BLSMSK By,Ey w:OSZAPC u:AP L0 feat:bmi1
V NP 0F38 F3/3 BLSI By,Ey w:OSZAPC u:AP L0 feat:bmi1
V NP 0F38 F5 BZHI Gy,Ey,By w:OSZAPC u:AP L0 feat:bmi2
V F3 0F38 F5 PEXT Gy,By,Ey L0 feat:bmi2
V F2 0F38 F5 PDEP Gy,By,Ey L0 feat:bmi2
V F2 0F38 F6 MULX Gy,By,Ey L0 feat:bmi2
V NP 0F38 F7 BEXTR Gy,Ey,By w:OSZAPC u:ASP L0 feat:bmi1
V 66 0F38 F7 SHLX Gy,Ey,By L0 feat:bmi2
V F3 0F38 F7 SARX Gy,Ey,By L0 feat:bmi2
V F2 0F38 F7 SHRX Gy,Ey,By L0 feat:bmi2
V F2 0F3A F0 RORX Gy,Ey,Ib L0 feat:bmi2
# ---- VEX-encoded vector instructions (AVX, AVX2, FMA3, F16C; VectorAVX.swift) -------------------
# VEX.L selects 128/256 bits unless L0/L1 (must be 0/1) is given; W0/W1: VEX.W must be 0/1;
# WIG: W ignored; otherwise W selects the element or GPR size (VMOVD/Q, VPEXTRD/Q, FMA PS/PD,
# VPSRLVD/Q ...). 256-bit integer forms need AVX2.
V NP 0F 10 VMOVUPS Vps,Wps WIG feat:avx
V NP 0F 11 VMOVUPS Wps,Vps WIG feat:avx
V 66 0F 10 VMOVUPD Vpd,Wpd WIG feat:avx
V 66 0F 11 VMOVUPD Wpd,Vpd WIG feat:avx
V F3 0F 10 VMOVSS Vx,Hx,Wss WIG feat:avx
V F2 0F 10 VMOVSD Vx,Hx,Wsd WIG feat:avx
V F3 0F 11 VMOVSS Wss,Hx,Vss WIG feat:avx
V F2 0F 11 VMOVSD Wsd,Hx,Vsd WIG feat:avx
V NP 0F 12 VMOVLPS Vq,Hq,Wq L0 WIG feat:avx
V 66 0F 12 VMOVLPD Vq,Hq,Mq L0 WIG feat:avx
V F3 0F 12 VMOVSLDUP Vx,Wx WIG feat:avx
V F2 0F 12 VMOVDDUP Vx,Wx WIG feat:avx
V NP 0F 13 VMOVLPS Mq,Vq L0 WIG feat:avx
V 66 0F 13 VMOVLPD Mq,Vq L0 WIG feat:avx
V NP 0F 14 VUNPCKLPS Vx,Hx,Wx WIG feat:avx
V 66 0F 14 VUNPCKLPD Vx,Hx,Wx WIG feat:avx
V NP 0F 15 VUNPCKHPS Vx,Hx,Wx WIG feat:avx
V 66 0F 15 VUNPCKHPD Vx,Hx,Wx WIG feat:avx
V NP 0F 16 VMOVHPS Vdq,Hq,Wq L0 WIG feat:avx
V 66 0F 16 VMOVHPD Vdq,Hq,Mq L0 WIG feat:avx
V F3 0F 16 VMOVSHDUP Vx,Wx WIG feat:avx
V NP 0F 17 VMOVHPS Mq,Vq L0 WIG feat:avx
V 66 0F 17 VMOVHPD Mq,Vq L0 WIG feat:avx
V NP 0F 28 VMOVAPS Vps,Wps WIG feat:avx
V 66 0F 28 VMOVAPD Vpd,Wpd WIG feat:avx
V NP 0F 29 VMOVAPS Wps,Vps WIG feat:avx
V 66 0F 29 VMOVAPD Wpd,Vpd WIG feat:avx
V F3 0F 2A VCVTSI2SS Vss,Hss,Ey feat:avx
V F2 0F 2A VCVTSI2SD Vsd,Hsd,Ey feat:avx
V NP 0F 2B VMOVNTPS Mps,Vps WIG feat:avx
V 66 0F 2B VMOVNTPD Mpd,Vpd WIG feat:avx
V F3 0F 2C VCVTTSS2SI Gy,Wss feat:avx
V F2 0F 2C VCVTTSD2SI Gy,Wsd feat:avx
V F3 0F 2D VCVTSS2SI Gy,Wss feat:avx
V F2 0F 2D VCVTSD2SI Gy,Wsd feat:avx
V NP 0F 2E VUCOMISS Vss,Wss w:OSZAPC WIG feat:avx
V 66 0F 2E VUCOMISD Vsd,Wsd w:OSZAPC WIG feat:avx
V NP 0F 2F VCOMISS Vss,Wss w:OSZAPC WIG feat:avx
V 66 0F 2F VCOMISD Vsd,Wsd w:OSZAPC WIG feat:avx
V NP 0F 50 VMOVMSKPS Gy,Ups WIG feat:avx
V 66 0F 50 VMOVMSKPD Gy,Upd WIG feat:avx
V NP 0F 51 VSQRTPS Vps,Wps WIG feat:avx
V 66 0F 51 VSQRTPD Vpd,Wpd WIG feat:avx
V F3 0F 51 VSQRTSS Vss,Hss,Wss WIG feat:avx
V F2 0F 51 VSQRTSD Vsd,Hsd,Wsd WIG feat:avx
V NP 0F 52 VRSQRTPS Vps,Wps WIG feat:avx
V F3 0F 52 VRSQRTSS Vss,Hss,Wss WIG feat:avx
V NP 0F 53 VRCPPS Vps,Wps WIG feat:avx
V F3 0F 53 VRCPSS Vss,Hss,Wss WIG feat:avx
V NP 0F 54 VANDPS Vps,Hps,Wps WIG feat:avx
V 66 0F 54 VANDPD Vpd,Hpd,Wpd WIG feat:avx
V NP 0F 55 VANDNPS Vps,Hps,Wps WIG feat:avx
V 66 0F 55 VANDNPD Vpd,Hpd,Wpd WIG feat:avx
V NP 0F 56 VORPS Vps,Hps,Wps WIG feat:avx
V 66 0F 56 VORPD Vpd,Hpd,Wpd WIG feat:avx
V NP 0F 57 VXORPS Vps,Hps,Wps WIG feat:avx
V 66 0F 57 VXORPD Vpd,Hpd,Wpd WIG feat:avx
V NP 0F 58 VADDPS Vps,Hps,Wps WIG feat:avx
V 66 0F 58 VADDPD Vpd,Hpd,Wpd WIG feat:avx
V F3 0F 58 VADDSS Vss,Hss,Wss WIG feat:avx
V F2 0F 58 VADDSD Vsd,Hsd,Wsd WIG feat:avx
V NP 0F 59 VMULPS Vps,Hps,Wps WIG feat:avx
V 66 0F 59 VMULPD Vpd,Hpd,Wpd WIG feat:avx
V F3 0F 59 VMULSS Vss,Hss,Wss WIG feat:avx
V F2 0F 59 VMULSD Vsd,Hsd,Wsd WIG feat:avx
V NP 0F 5C VSUBPS Vps,Hps,Wps WIG feat:avx
V 66 0F 5C VSUBPD Vpd,Hpd,Wpd WIG feat:avx
V F3 0F 5C VSUBSS Vss,Hss,Wss WIG feat:avx
V F2 0F 5C VSUBSD Vsd,Hsd,Wsd WIG feat:avx
V NP 0F 5D VMINPS Vps,Hps,Wps WIG feat:avx
V 66 0F 5D VMINPD Vpd,Hpd,Wpd WIG feat:avx
V F3 0F 5D VMINSS Vss,Hss,Wss WIG feat:avx
V F2 0F 5D VMINSD Vsd,Hsd,Wsd WIG feat:avx
V NP 0F 5E VDIVPS Vps,Hps,Wps WIG feat:avx
V 66 0F 5E VDIVPD Vpd,Hpd,Wpd WIG feat:avx
V F3 0F 5E VDIVSS Vss,Hss,Wss WIG feat:avx
V F2 0F 5E VDIVSD Vsd,Hsd,Wsd WIG feat:avx
V NP 0F 5F VMAXPS Vps,Hps,Wps WIG feat:avx
V 66 0F 5F VMAXPD Vpd,Hpd,Wpd WIG feat:avx
V F3 0F 5F VMAXSS Vss,Hss,Wss WIG feat:avx
V F2 0F 5F VMAXSD Vsd,Hsd,Wsd WIG feat:avx
V NP 0F 5A VCVTPS2PD Vpd,Wps WIG feat:avx
V 66 0F 5A VCVTPD2PS Vps,Wpd WIG feat:avx
V F3 0F 5A VCVTSS2SD Vsd,Hx,Wss WIG feat:avx
V F2 0F 5A VCVTSD2SS Vss,Hx,Wsd WIG feat:avx
V NP 0F 5B VCVTDQ2PS Vps,Wdq WIG feat:avx
V 66 0F 5B VCVTPS2DQ Vdq,Wps WIG feat:avx
V F3 0F 5B VCVTTPS2DQ Vdq,Wps WIG feat:avx
V 66 0F 60 VPUNPCKLBW Vx,Hx,Wx WIG feat:avx
V 66 0F 61 VPUNPCKLWD Vx,Hx,Wx WIG feat:avx
V 66 0F 62 VPUNPCKLDQ Vx,Hx,Wx WIG feat:avx
V 66 0F 63 VPACKSSWB Vx,Hx,Wx WIG feat:avx
V 66 0F 64 VPCMPGTB Vx,Hx,Wx WIG feat:avx
V 66 0F 65 VPCMPGTW Vx,Hx,Wx WIG feat:avx
V 66 0F 66 VPCMPGTD Vx,Hx,Wx WIG feat:avx
V 66 0F 67 VPACKUSWB Vx,Hx,Wx WIG feat:avx
V 66 0F 68 VPUNPCKHBW Vx,Hx,Wx WIG feat:avx
V 66 0F 69 VPUNPCKHWD Vx,Hx,Wx WIG feat:avx
V 66 0F 6A VPUNPCKHDQ Vx,Hx,Wx WIG feat:avx
V 66 0F 6B VPACKSSDW Vx,Hx,Wx WIG feat:avx
V 66 0F 6C VPUNPCKLQDQ Vx,Hx,Wx WIG feat:avx
V 66 0F 6D VPUNPCKHQDQ Vx,Hx,Wx WIG feat:avx
V 66 0F 6E VMOVD Vdq,Ey L0 feat:avx
V 66 0F 6F VMOVDQA Vx,Wx WIG feat:avx
V F3 0F 6F VMOVDQU Vx,Wx WIG feat:avx
V 66 0F 70 VPSHUFD Vx,Wx,Ib WIG feat:avx
V F3 0F 70 VPSHUFHW Vx,Wx,Ib WIG feat:avx
V F2 0F 70 VPSHUFLW Vx,Wx,Ib WIG feat:avx
V 66 0F 71/2.r VPSRLW Hx,Ux,Ib WIG feat:avx
V 66 0F 71/4.r VPSRAW Hx,Ux,Ib WIG feat:avx
V 66 0F 71/6.r VPSLLW Hx,Ux,Ib WIG feat:avx
V 66 0F 72/2.r VPSRLD Hx,Ux,Ib WIG feat:avx
V 66 0F 72/4.r VPSRAD Hx,Ux,Ib WIG feat:avx
V 66 0F 72/6.r VPSLLD Hx,Ux,Ib WIG feat:avx
V 66 0F 73/2.r VPSRLQ Hx,Ux,Ib WIG feat:avx
V 66 0F 73/3.r VPSRLDQ Hx,Ux,Ib WIG feat:avx
V 66 0F 73/6.r VPSLLQ Hx,Ux,Ib WIG feat:avx
V 66 0F 73/7.r VPSLLDQ Hx,Ux,Ib WIG feat:avx
V 66 0F 74 VPCMPEQB Vx,Hx,Wx WIG feat:avx
V 66 0F 75 VPCMPEQW Vx,Hx,Wx WIG feat:avx
V 66 0F 76 VPCMPEQD Vx,Hx,Wx WIG feat:avx
V NP 0F 77 VZEROUPPER - WIG feat:avx
V NP 0F AE/2.m VLDMXCSR Md L0 WIG feat:avx
V NP 0F AE/3.m VSTMXCSR Md L0 WIG feat:avx
V 66 0F 7C VHADDPD Vpd,Hpd,Wpd WIG feat:avx
V F2 0F 7C VHADDPS Vps,Hps,Wps WIG feat:avx
V 66 0F 7D VHSUBPD Vpd,Hpd,Wpd WIG feat:avx
V F2 0F 7D VHSUBPS Vps,Hps,Wps WIG feat:avx
V 66 0F 7E VMOVD Ey,Vdq L0 feat:avx
V F3 0F 7E VMOVQ Vx,Wq L0 WIG feat:avx
V 66 0F 7F VMOVDQA Wx,Vx WIG feat:avx
V F3 0F 7F VMOVDQU Wx,Vx WIG feat:avx
V NP 0F C2 VCMPPS Vps,Hps,Wps,Ib WIG feat:avx
V 66 0F C2 VCMPPD Vpd,Hpd,Wpd,Ib WIG feat:avx
V F3 0F C2 VCMPSS Vss,Hss,Wss,Ib WIG feat:avx
V F2 0F C2 VCMPSD Vsd,Hsd,Wsd,Ib WIG feat:avx
V 66 0F C4 VPINSRW Vdq,Hdq,Ew,Ib L0 WIG feat:avx
V 66 0F C5 VPEXTRW Gd,Udq,Ib L0 WIG feat:avx
V NP 0F C6 VSHUFPS Vps,Hps,Wps,Ib WIG feat:avx
V 66 0F C6 VSHUFPD Vpd,Hpd,Wpd,Ib WIG feat:avx
V 66 0F D0 VADDSUBPD Vpd,Hpd,Wpd WIG feat:avx
V F2 0F D0 VADDSUBPS Vps,Hps,Wps WIG feat:avx
V 66 0F D1 VPSRLW Vx,Hx,Wdq WIG feat:avx
V 66 0F D2 VPSRLD Vx,Hx,Wdq WIG feat:avx
V 66 0F D3 VPSRLQ Vx,Hx,Wdq WIG feat:avx
V 66 0F D4 VPADDQ Vx,Hx,Wx WIG feat:avx
V 66 0F D5 VPMULLW Vx,Hx,Wx WIG feat:avx
V 66 0F D6 VMOVQ Wq,Vq L0 WIG feat:avx
V 66 0F D7 VPMOVMSKB Gd,Ux WIG feat:avx
V 66 0F D8 VPSUBUSB Vx,Hx,Wx WIG feat:avx
V 66 0F D9 VPSUBUSW Vx,Hx,Wx WIG feat:avx
V 66 0F DA VPMINUB Vx,Hx,Wx WIG feat:avx
V 66 0F DB VPAND Vx,Hx,Wx WIG feat:avx
V 66 0F DC VPADDUSB Vx,Hx,Wx WIG feat:avx
V 66 0F DD VPADDUSW Vx,Hx,Wx WIG feat:avx
V 66 0F DE VPMAXUB Vx,Hx,Wx WIG feat:avx
V 66 0F DF VPANDN Vx,Hx,Wx WIG feat:avx
V 66 0F E0 VPAVGB Vx,Hx,Wx WIG feat:avx
V 66 0F E1 VPSRAW Vx,Hx,Wdq WIG feat:avx
V 66 0F E2 VPSRAD Vx,Hx,Wdq WIG feat:avx
V 66 0F E3 VPAVGW Vx,Hx,Wx WIG feat:avx
V 66 0F E4 VPMULHUW Vx,Hx,Wx WIG feat:avx
V 66 0F E5 VPMULHW Vx,Hx,Wx WIG feat:avx
V 66 0F E6 VCVTTPD2DQ Vx,Wpd WIG feat:avx
V F3 0F E6 VCVTDQ2PD Vx,Wpd WIG feat:avx
V F2 0F E6 VCVTPD2DQ Vx,Wpd WIG feat:avx
V 66 0F E7 VMOVNTDQ Mx,Vx WIG feat:avx
V 66 0F E8 VPSUBSB Vx,Hx,Wx WIG feat:avx
V 66 0F E9 VPSUBSW Vx,Hx,Wx WIG feat:avx
V 66 0F EA VPMINSW Vx,Hx,Wx WIG feat:avx
V 66 0F EB VPOR Vx,Hx,Wx WIG feat:avx
V 66 0F EC VPADDSB Vx,Hx,Wx WIG feat:avx
V 66 0F ED VPADDSW Vx,Hx,Wx WIG feat:avx
V 66 0F EE VPMAXSW Vx,Hx,Wx WIG feat:avx
V 66 0F EF VPXOR Vx,Hx,Wx WIG feat:avx
V F2 0F F0 VLDDQU Vx,Mx WIG feat:avx
V 66 0F F1 VPSLLW Vx,Hx,Wdq WIG feat:avx
V 66 0F F2 VPSLLD Vx,Hx,Wdq WIG feat:avx
V 66 0F F3 VPSLLQ Vx,Hx,Wdq WIG feat:avx
V 66 0F F4 VPMULUDQ Vx,Hx,Wx WIG feat:avx
V 66 0F F5 VPMADDWD Vx,Hx,Wx WIG feat:avx
V 66 0F F6 VPSADBW Vx,Hx,Wx WIG feat:avx
V 66 0F F7 VMASKMOVDQU Vdq,Udq L0 WIG feat:avx
V 66 0F F8 VPSUBB Vx,Hx,Wx WIG feat:avx
V 66 0F F9 VPSUBW Vx,Hx,Wx WIG feat:avx
V 66 0F FA VPSUBD Vx,Hx,Wx WIG feat:avx
V 66 0F FB VPSUBQ Vx,Hx,Wx WIG feat:avx
V 66 0F FC VPADDB Vx,Hx,Wx WIG feat:avx
V 66 0F FD VPADDW Vx,Hx,Wx WIG feat:avx
V 66 0F FE VPADDD Vx,Hx,Wx WIG feat:avx
V 66 0F38 00 VPSHUFB Vx,Hx,Wx WIG feat:avx
V 66 0F38 01 VPHADDW Vx,Hx,Wx WIG feat:avx
V 66 0F38 02 VPHADDD Vx,Hx,Wx WIG feat:avx
V 66 0F38 03 VPHADDSW Vx,Hx,Wx WIG feat:avx
V 66 0F38 04 VPMADDUBSW Vx,Hx,Wx WIG feat:avx
V 66 0F38 05 VPHSUBW Vx,Hx,Wx WIG feat:avx
V 66 0F38 06 VPHSUBD Vx,Hx,Wx WIG feat:avx
V 66 0F38 07 VPHSUBSW Vx,Hx,Wx WIG feat:avx
V 66 0F38 08 VPSIGNB Vx,Hx,Wx WIG feat:avx
V 66 0F38 09 VPSIGNW Vx,Hx,Wx WIG feat:avx
V 66 0F38 0A VPSIGND Vx,Hx,Wx WIG feat:avx
V 66 0F38 0B VPMULHRSW Vx,Hx,Wx WIG feat:avx
V 66 0F38 0C VPERMILPS Vx,Hx,Wx W0 feat:avx
V 66 0F38 0D VPERMILPD Vx,Hx,Wx W0 feat:avx
V 66 0F38 0E VTESTPS Vx,Wx w:OSZAPC W0 feat:avx
V 66 0F38 0F VTESTPD Vx,Wx w:OSZAPC W0 feat:avx
V 66 0F38 13 VCVTPH2PS Vx,Wx W0 feat:f16c
V 66 0F38 16 VPERMPS Vqq,Hqq,Wqq L1 W0 feat:avx2
V 66 0F38 17 VPTEST Vx,Wx w:OSZAPC WIG feat:avx
V 66 0F38 18 VBROADCASTSS Vx,Wd W0 feat:avx
V 66 0F38 19 VBROADCASTSD Vqq,Wq L1 W0 feat:avx
V 66 0F38 1A VBROADCASTF128 Vqq,Mdq L1 W0 feat:avx
V 66 0F38 1C VPABSB Vx,Wx WIG feat:avx
V 66 0F38 1D VPABSW Vx,Wx WIG feat:avx
V 66 0F38 1E VPABSD Vx,Wx WIG feat:avx
V 66 0F38 20 VPMOVSXBW Vx,Wq WIG feat:avx
V 66 0F38 21 VPMOVSXBD Vx,Wd WIG feat:avx
V 66 0F38 22 VPMOVSXBQ Vx,Ww WIG feat:avx
V 66 0F38 23 VPMOVSXWD Vx,Wq WIG feat:avx
V 66 0F38 24 VPMOVSXWQ Vx,Wd WIG feat:avx
V 66 0F38 25 VPMOVSXDQ Vx,Wq WIG feat:avx
V 66 0F38 28 VPMULDQ Vx,Hx,Wx WIG feat:avx
V 66 0F38 29 VPCMPEQQ Vx,Hx,Wx WIG feat:avx
V 66 0F38 2A VMOVNTDQA Vx,Mx WIG feat:avx
V 66 0F38 2B VPACKUSDW Vx,Hx,Wx WIG feat:avx
V 66 0F38 2C VMASKMOVPS Vx,Hx,Mx W0 feat:avx
V 66 0F38 2D VMASKMOVPD Vx,Hx,Mx W0 feat:avx
V 66 0F38 2E VMASKMOVPS Mx,Hx,Vx W0 feat:avx
V 66 0F38 2F VMASKMOVPD Mx,Hx,Vx W0 feat:avx
V 66 0F38 30 VPMOVZXBW Vx,Wq WIG feat:avx
V 66 0F38 31 VPMOVZXBD Vx,Wd WIG feat:avx
V 66 0F38 32 VPMOVZXBQ Vx,Ww WIG feat:avx
V 66 0F38 33 VPMOVZXWD Vx,Wq WIG feat:avx
V 66 0F38 34 VPMOVZXWQ Vx,Wd WIG feat:avx
V 66 0F38 35 VPMOVZXDQ Vx,Wq WIG feat:avx
V 66 0F38 36 VPERMD Vqq,Hqq,Wqq L1 W0 feat:avx2
V 66 0F38 37 VPCMPGTQ Vx,Hx,Wx WIG feat:avx
V 66 0F38 38 VPMINSB Vx,Hx,Wx WIG feat:avx
V 66 0F38 39 VPMINSD Vx,Hx,Wx WIG feat:avx
V 66 0F38 3A VPMINUW Vx,Hx,Wx WIG feat:avx
V 66 0F38 3B VPMINUD Vx,Hx,Wx WIG feat:avx
V 66 0F38 3C VPMAXSB Vx,Hx,Wx WIG feat:avx
V 66 0F38 3D VPMAXSD Vx,Hx,Wx WIG feat:avx
V 66 0F38 3E VPMAXUW Vx,Hx,Wx WIG feat:avx
V 66 0F38 3F VPMAXUD Vx,Hx,Wx WIG feat:avx
V 66 0F38 40 VPMULLD Vx,Hx,Wx WIG feat:avx
V 66 0F38 41 VPHMINPOSUW Vdq,Wdq L0 WIG feat:avx
V 66 0F38 45 VPSRLVD Vx,Hx,Wx feat:avx2
V 66 0F38 46 VPSRAVD Vx,Hx,Wx W0 feat:avx2
V 66 0F38 47 VPSLLVD Vx,Hx,Wx feat:avx2
V 66 0F38 58 VPBROADCASTD Vx,Wd W0 feat:avx2
V 66 0F38 59 VPBROADCASTQ Vx,Wq W0 feat:avx2
V 66 0F38 5A VBROADCASTI128 Vqq,Mdq L1 W0 feat:avx2
V 66 0F38 78 VPBROADCASTB Vx,Wb W0 feat:avx2
V 66 0F38 79 VPBROADCASTW Vx,Ww W0 feat:avx2
V 66 0F38 8C VPMASKMOVD Vx,Hx,Mx feat:avx2
V 66 0F38 8E VPMASKMOVD Mx,Hx,Vx feat:avx2
V 66 0F38 90 VPGATHERDD Vx,Mx,Hx feat:avx2
V 66 0F38 91 VPGATHERQD Vx,Mx,Hx feat:avx2
V 66 0F38 92 VGATHERDPS Vx,Mx,Hx feat:avx2
V 66 0F38 93 VGATHERQPS Vx,Mx,Hx feat:avx2
V 66 0F38 96 VFMADDSUB132PS Vx,Hx,Wx feat:fma
V 66 0F38 97 VFMSUBADD132PS Vx,Hx,Wx feat:fma
V 66 0F38 98 VFMADD132PS Vx,Hx,Wx feat:fma
V 66 0F38 99 VFMADD132SS Vx,Hx,Wx feat:fma
V 66 0F38 9A VFMSUB132PS Vx,Hx,Wx feat:fma
V 66 0F38 9B VFMSUB132SS Vx,Hx,Wx feat:fma
V 66 0F38 9C VFNMADD132PS Vx,Hx,Wx feat:fma
V 66 0F38 9D VFNMADD132SS Vx,Hx,Wx feat:fma
V 66 0F38 9E VFNMSUB132PS Vx,Hx,Wx feat:fma
V 66 0F38 9F VFNMSUB132SS Vx,Hx,Wx feat:fma
V 66 0F38 A6 VFMADDSUB213PS Vx,Hx,Wx feat:fma
V 66 0F38 A7 VFMSUBADD213PS Vx,Hx,Wx feat:fma
V 66 0F38 A8 VFMADD213PS Vx,Hx,Wx feat:fma
V 66 0F38 A9 VFMADD213SS Vx,Hx,Wx feat:fma
V 66 0F38 AA VFMSUB213PS Vx,Hx,Wx feat:fma
V 66 0F38 AB VFMSUB213SS Vx,Hx,Wx feat:fma
V 66 0F38 AC VFNMADD213PS Vx,Hx,Wx feat:fma
V 66 0F38 AD VFNMADD213SS Vx,Hx,Wx feat:fma
V 66 0F38 AE VFNMSUB213PS Vx,Hx,Wx feat:fma
V 66 0F38 AF VFNMSUB213SS Vx,Hx,Wx feat:fma
V 66 0F38 B6 VFMADDSUB231PS Vx,Hx,Wx feat:fma
V 66 0F38 B7 VFMSUBADD231PS Vx,Hx,Wx feat:fma
V 66 0F38 B8 VFMADD231PS Vx,Hx,Wx feat:fma
V 66 0F38 B9 VFMADD231SS Vx,Hx,Wx feat:fma
V 66 0F38 BA VFMSUB231PS Vx,Hx,Wx feat:fma
V 66 0F38 BB VFMSUB231SS Vx,Hx,Wx feat:fma
V 66 0F38 BC VFNMADD231PS Vx,Hx,Wx feat:fma
V 66 0F38 BD VFNMADD231SS Vx,Hx,Wx feat:fma
V 66 0F38 BE VFNMSUB231PS Vx,Hx,Wx feat:fma
V 66 0F38 BF VFNMSUB231SS Vx,Hx,Wx feat:fma
V 66 0F38 DB VAESIMC Vdq,Wdq L0 WIG feat:aes
V 66 0F38 DC VAESENC Vdq,Hdq,Wdq L0 WIG feat:aes
V 66 0F38 DD VAESENCLAST Vdq,Hdq,Wdq L0 WIG feat:aes
V 66 0F38 DE VAESDEC Vdq,Hdq,Wdq L0 WIG feat:aes
V 66 0F38 DF VAESDECLAST Vdq,Hdq,Wdq L0 WIG feat:aes
V 66 0F3A 00 VPERMQ Vqq,Wqq,Ib L1 W1 feat:avx2
V 66 0F3A 01 VPERMPD Vqq,Wqq,Ib L1 W1 feat:avx2
V 66 0F3A 02 VPBLENDD Vx,Hx,Wx,Ib W0 feat:avx2
V 66 0F3A 04 VPERMILPS Vx,Wx,Ib W0 feat:avx
V 66 0F3A 05 VPERMILPD Vx,Wx,Ib W0 feat:avx
V 66 0F3A 06 VPERM2F128 Vqq,Hqq,Wqq,Ib L1 W0 feat:avx
V 66 0F3A 08 VROUNDPS Vx,Wx,Ib WIG feat:avx
V 66 0F3A 09 VROUNDPD Vx,Wx,Ib WIG feat:avx
V 66 0F3A 0A VROUNDSS Vss,Hss,Wss,Ib WIG feat:avx
V 66 0F3A 0B VROUNDSD Vsd,Hsd,Wsd,Ib WIG feat:avx
V 66 0F3A 0C VBLENDPS Vx,Hx,Wx,Ib WIG feat:avx
V 66 0F3A 0D VBLENDPD Vx,Hx,Wx,Ib WIG feat:avx
V 66 0F3A 0E VPBLENDW Vx,Hx,Wx,Ib WIG feat:avx
V 66 0F3A 0F VPALIGNR Vx,Hx,Wx,Ib WIG feat:avx
V 66 0F3A 14 VPEXTRB Ed,Vdq,Ib L0 feat:avx
V 66 0F3A 15 VPEXTRW Ed,Vdq,Ib L0 feat:avx
V 66 0F3A 16 VPEXTRD Ey,Vdq,Ib L0 feat:avx
V 66 0F3A 17 VEXTRACTPS Ed,Vdq,Ib L0 WIG feat:avx
V 66 0F3A 18 VINSERTF128 Vqq,Hqq,Wdq,Ib L1 W0 feat:avx
V 66 0F3A 19 VEXTRACTF128 Wdq,Vqq,Ib L1 W0 feat:avx
V 66 0F3A 1D VCVTPS2PH Wx,Vx,Ib W0 feat:f16c
V 66 0F3A 20 VPINSRB Vdq,Hdq,Ed,Ib L0 feat:avx
V 66 0F3A 21 VINSERTPS Vdq,Hdq,Wd,Ib L0 WIG feat:avx
V 66 0F3A 22 VPINSRD Vdq,Hdq,Ey,Ib L0 feat:avx
V 66 0F3A 38 VINSERTI128 Vqq,Hqq,Wdq,Ib L1 W0 feat:avx2
V 66 0F3A 39 VEXTRACTI128 Wdq,Vqq,Ib L1 W0 feat:avx2
V 66 0F3A 40 VDPPS Vx,Hx,Wx,Ib WIG feat:avx
V 66 0F3A 41 VDPPD Vdq,Hdq,Wdq,Ib L0 WIG feat:avx
V 66 0F3A 42 VMPSADBW Vx,Hx,Wx,Ib WIG feat:avx
V 66 0F3A 44 VPCLMULQDQ Vdq,Hdq,Wdq,Ib L0 WIG feat:pclmulqdq
V 66 0F3A 46 VPERM2I128 Vqq,Hqq,Wqq,Ib L1 W0 feat:avx2
V 66 0F3A 4A VBLENDVPS Vx,Hx,Wx,Lx W0 feat:avx
V 66 0F3A 4B VBLENDVPD Vx,Hx,Wx,Lx W0 feat:avx
V 66 0F3A 4C VPBLENDVB Vx,Hx,Wx,Lx W0 feat:avx
V 66 0F3A 60 VPCMPESTRM Vdq,Wdq,Ib w:OSZAPC L0 feat:avx
V 66 0F3A 61 VPCMPESTRI Vdq,Wdq,Ib w:OSZAPC L0 feat:avx
V 66 0F3A 62 VPCMPISTRM Vdq,Wdq,Ib w:OSZAPC L0 WIG feat:avx
V 66 0F3A 63 VPCMPISTRI Vdq,Wdq,Ib w:OSZAPC L0 WIG feat:avx
V 66 0F3A DF VAESKEYGENASSIST Vdq,Wdq,Ib L0 WIG feat:aes
# ---- three-byte map 0F3A (all take an imm8) -------------------------------------------------
66 0F3A 08 ROUNDPS Vx,Wx,Ib feat:sse4.1
66 0F3A 09 ROUNDPD Vx,Wx,Ib feat:sse4.1
66 0F3A 0A ROUNDSS Vss,Wss,Ib feat:sse4.1
66 0F3A 0B ROUNDSD Vsd,Wsd,Ib feat:sse4.1
66 0F3A 0C BLENDPS Vx,Wx,Ib feat:sse4.1
66 0F3A 0D BLENDPD Vx,Wx,Ib feat:sse4.1
66 0F3A 0E PBLENDW Vx,Wx,Ib feat:sse4.1
0F3A 0F PALIGNR Pq,Qq,Ib feat:ssse3
66 0F3A 0F PALIGNR Vx,Wx,Ib feat:ssse3
66 0F3A 14 PEXTRB Ed,Vdq,Ib feat:sse4.1
66 0F3A 15 PEXTRW Ed,Vdq,Ib feat:sse4.1
66 0F3A 16 PEXTRD Ey,Vdq,Ib feat:sse4.1
66 0F3A 17 EXTRACTPS Ed,Vdq,Ib feat:sse4.1
66 0F3A 20 PINSRB Vdq,Ed,Ib feat:sse4.1
66 0F3A 21 INSERTPS Vdq,Wd,Ib feat:sse4.1
66 0F3A 22 PINSRD Vdq,Ey,Ib feat:sse4.1
66 0F3A 40 DPPS Vx,Wx,Ib feat:sse4.1
66 0F3A 41 DPPD Vdq,Wdq,Ib feat:sse4.1
66 0F3A 42 MPSADBW Vx,Wx,Ib feat:sse4.1
66 0F3A 44 PCLMULQDQ Vdq,Wdq,Ib feat:pclmulqdq
66 0F3A 60 PCMPESTRM Vdq,Wdq,Ib w:OSZAPC feat:sse4.2
66 0F3A 61 PCMPESTRI Vdq,Wdq,Ib w:OSZAPC feat:sse4.2
66 0F3A 62 PCMPISTRM Vdq,Wdq,Ib w:OSZAPC feat:sse4.2
66 0F3A 63 PCMPISTRI Vdq,Wdq,Ib w:OSZAPC feat:sse4.2
NP 0F3A CC SHA1RNDS4 Vdq,Wdq,Ib feat:sha
66 0F3A DF AESKEYGENASSIST Vdq,Wdq,Ib feat:aes
"""
