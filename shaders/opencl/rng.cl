/* shaders/opencl/rng.cl — Philox4x32-10 random fill (bit-identical to the
 * CPU backend's agi_philox4x32 for the uniform bits). */

uint4 philox4x32_10(uint4 c, uint2 k)
{
    for (int round = 0; round < 10; round++) {
        uint lo0 = 0xD2511F53u * c.x, hi0 = mul_hi(0xD2511F53u, c.x);
        uint lo1 = 0xCD9E8D57u * c.z, hi1 = mul_hi(0xCD9E8D57u, c.z);
        c = (uint4)(hi1 ^ c.y ^ k.x, lo1, hi0 ^ c.w ^ k.y, lo0);
        k.x += 0x9E3779B9u;
        k.y += 0xBB67AE85u;
    }
    return c;
}

/* Value of element i (see rng_f32). */
float rng_value(long i, uint seed_lo, uint seed_hi, uint off_lo, uint off_hi, int normal, float a,
                float b)
{
    ulong c = (((ulong)off_hi << 32) | off_lo) + (ulong)i;
    uint4 x = philox4x32_10((uint4)((uint)c, (uint)(c >> 32), 0u, 0u), (uint2)(seed_lo, seed_hi));
    float v;
    if (!normal) {
        float u = (float)(x.x >> 8) * 0x1.0p-24f;
        v = a + (b - a) * u;
    } else {
        float u1 = (float)((x.x >> 8) + 1u) * 0x1.0p-24f;
        float u2 = (float)(x.y >> 8) * 0x1.0p-24f;
        v = a + b * (sqrt(-2.0f * log(u1)) * cos(6.283185307179586f * u2));
    }
    return v;
}

/* Element k (row-major in view 0) uses counter offset + k. normal = 0:
 * uniform in [a, b); normal = 1: mean a, std b (Box-Muller, first output).
 * from_buf = 1 (graph replays): seed and offset are read instead from
 * pw[pwo .. pwo + 3] = {seed lo, seed hi, offset lo, offset hi}. */
__kernel void rng_f32(__global float *d, geom_t g, uint seed_lo, uint seed_hi, uint off_lo,
                      uint off_hi, int normal, float a, float b, __global const uint *pw, long pwo,
                      int from_buf)
{
    if (from_buf) {
        seed_lo = pw[pwo];
        seed_hi = pw[pwo + 1];
        off_lo = pw[pwo + 2];
        off_hi = pw[pwo + 3];
    }
    EW_BODY(g, 1, d[o[0]] = rng_value(i, seed_lo, seed_hi, off_lo, off_hi, normal, a, b);)
}
