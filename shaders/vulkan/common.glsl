// shaders/vulkan/common.glsl — shared by every compute shader.
// Specialization constant 0 is the workgroup size (x). Kernels launched on a
// linear range use a 2-D grid (x up to 65535 groups, then y); lin_id() gives
// the flat invocation index and lin_group() the flat workgroup index.
layout(local_size_x_id = 0) in;

uint lin_id()
{
    return gl_GlobalInvocationID.x + gl_GlobalInvocationID.y * gl_NumWorkGroups.x * gl_WorkGroupSize.x;
}

uint lin_group() { return gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x; }

// expm1 accurate near 0 (Taylor series to degree 11 for |y| <= 1.25).
float expm1_acc(float y)
{
    if (abs(y) > 1.25) return exp(y) - 1.0;
    float p = 1.0 / 39916800.0;
    p = p * y + 1.0 / 3628800.0;
    p = p * y + 1.0 / 362880.0;
    p = p * y + 1.0 / 40320.0;
    p = p * y + 1.0 / 5040.0;
    p = p * y + 1.0 / 720.0;
    p = p * y + 1.0 / 120.0;
    p = p * y + 1.0 / 24.0;
    p = p * y + 1.0 / 6.0;
    p = p * y + 0.5;
    p = p * y + 1.0;
    return p * y;
}

float log1p_acc(float z)
{
    float u = 1.0 + z;
    if (u == 1.0) return z;
    if (isinf(u)) return u;
    return log(u) * (z / (u - 1.0));
}

float tanh_acc(float x)
{
    float a = abs(x);
    float t;
    if (a < 0.625) {
        float e = expm1_acc(-2.0 * a);
        t = -e / (2.0 + e);
    } else if (a > 15.0) {
        t = 1.0;
    } else {
        float e = exp(-2.0 * a);
        t = (1.0 - e) / (1.0 + e);
    }
    return x < 0.0 ? -t : (isnan(x) ? x : t);
}

float sigmoid_acc(float x) { return 1.0 / (1.0 + exp(-x)); }

// erf with absolute error below 2e-7: series near 0, complementary
// continued-fraction-free rational approximation (Abramowitz-Stegun 7.1.26
// refined) elsewhere.
float erf_acc(float x)
{
    float a = abs(x);
    float r;
    if (a < 0.5) {
        float z = x * x;
        // 2/sqrt(pi) * (x - x^3/3 + x^5/10 - x^7/42 + x^9/216 - x^11/1320)
        float p = -1.0 / 1320.0;
        p = p * z + 1.0 / 216.0;
        p = p * z - 1.0 / 42.0;
        p = p * z + 1.0 / 10.0;
        p = p * z - 1.0 / 3.0;
        p = p * z + 1.0;
        return 1.1283791670955126 * x * p;
    }
    if (a >= 4.0) {
        r = 1.0;
    } else {
        float t = 1.0 / (1.0 + 0.3275911 * a);
        float y = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
        r = 1.0 - y * exp(-a * a);
    }
    return x < 0.0 ? -r : r;
}

// powf semantics for the cases that matter: integer exponents of negative
// bases keep their sign, x^0 = 1, 1^y = 1.
float pow_acc(float x, float y)
{
    if (y == 0.0 || x == 1.0) return 1.0;
    if (isnan(x) || isnan(y)) return x + y;
    if (y == 1.0) return x;
    if (y == 2.0) return x * x;
    if (y == 0.5 && x >= 0.0) return sqrt(x);
    if (y == -1.0) return 1.0 / x;
    bool yint = floor(y) == y;
    float ax = abs(x);
    float r;
    if (ax == 0.0) {
        r = y > 0.0 ? 0.0 : 1.0 / 0.0;
    } else if (isinf(ax)) {
        r = y > 0.0 ? ax : 0.0;
    } else if (yint && abs(y) <= 32.0) {
        // exact-ish repeated squaring for small integer exponents
        uint e = uint(abs(y));
        float b = ax, acc = 1.0;
        while (e != 0u) {
            if ((e & 1u) != 0u) acc *= b;
            b *= b;
            e >>= 1;
        }
        r = y < 0.0 ? 1.0 / acc : acc;
    } else {
        r = exp2(y * log2(ax));
    }
    if (x < 0.0 || (x == 0.0 && 1.0 / x < 0.0)) {
        if (!yint) return 0.0 / 0.0;
        bool odd = abs(y) < 16777216.0 && (uint(abs(y)) & 1u) == 1u;
        if (odd) r = -r;
    }
    return r;
}
