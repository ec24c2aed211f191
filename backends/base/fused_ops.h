/*
 * backends/base/fused_ops.h — the program of AGI_K_EW_FUSED (a chain of
 * elementwise f32 steps merged by a graph into one kernel), for C, GLSL and
 * OpenCL C. Each step is one 32-bit code plus two f32 parameters:
 *
 *   kind  bits 0..3     AG_FUSED_CONST  r = p0
 *                       AG_FUSED_UNARY  r = ag_un_<sub>(ra, p0, p1)
 *                       AG_FUSED_BINARY r = ag_bi_<sub>(ra, rb, p0, p1)
 *                       AG_FUSED_COPY   r = ra
 *   sub   bits 4..11    agi_unary_op / agi_binary_op (float result)
 *   a, b  bits 12..15, 16..19: operand registers
 *
 * Registers 0 .. AG_FUSED_MAX_INPUTS-1 hold the element of each source view
 * (src0, src1, src2); register AG_FUSED_MAX_INPUTS + j holds step j's result;
 * dst receives the last step's. Every step rounds to f32 exactly like the
 * separate kernel would (kernels keep a step's result from being contracted
 * into the next step's arithmetic), so a fused chain gives the bits of the
 * kernels it replaces.
 */
#ifndef AG_FUSED_OPS_H
#define AG_FUSED_OPS_H

#define AG_FUSED_MAX_STEPS 8
#define AG_FUSED_MAX_INPUTS 3
#define AG_FUSED_NREGS (AG_FUSED_MAX_INPUTS + AG_FUSED_MAX_STEPS)

#define AG_FUSED_CONST 1
#define AG_FUSED_UNARY 2
#define AG_FUSED_BINARY 3
#define AG_FUSED_COPY 4

#define AG_FUSED_CODE(kind, sub, a, b) ((kind) | ((sub) << 4) | ((a) << 12) | ((b) << 16))
#define AG_FUSED_KIND(c) ((c) & 15)
#define AG_FUSED_SUB(c) (((c) >> 4) & 255)
#define AG_FUSED_A(c) (((c) >> 12) & 15)
#define AG_FUSED_B(c) (((c) >> 16) & 15)

#endif
