// shaders/vulkan/rowreduce.glsl — workgroup-wide sum and NaN-propagating max
// for kernels that give each row a workgroup (softmax, layer_norm). With
// SUBGROUP defined (and GL_KHR_shader_subgroup_arithmetic enabled by the
// includer) they reduce within subgroups first; otherwise a shared-memory
// tree over a power-of-two workgroup.
shared float red[gl_WorkGroupSize.x];

float nanmax(float a, float b) { return (isnan(a) || a >= b) ? a : b; }

#ifdef SUBGROUP
// NaN-propagating subgroup max: max of the non-NaN values, NaN if any lane has one.
float sg_max(float v)
{
    bool anynan = subgroupMax(isnan(v) ? 1.0 : 0.0) > 0.0;
    float m = subgroupMax(isnan(v) ? -1.0 / 0.0 : v);
    return anynan ? 0.0 / 0.0 : m;
}

float wg_sum(float v)
{
    v = subgroupAdd(v);
    if (gl_NumSubgroups == 1u) return v;
    if (subgroupElect()) red[gl_SubgroupID] = v;
    barrier();
    float r = 0.0;
    for (uint i = 0u; i < gl_NumSubgroups; i++) r += red[i];
    barrier();
    return r;
}

float wg_max(float v)
{
    v = sg_max(v);
    if (gl_NumSubgroups == 1u) return v;
    if (subgroupElect()) red[gl_SubgroupID] = v;
    barrier();
    float r = red[0];
    for (uint i = 1u; i < gl_NumSubgroups; i++) r = nanmax(r, red[i]);
    barrier();
    return r;
}
#else
float wg_sum(float v)
{
    uint t = gl_LocalInvocationID.x;
    red[t] = v;
    barrier();
    for (uint h = gl_WorkGroupSize.x / 2u; h > 0u; h >>= 1) {
        if (t < h) red[t] += red[t + h];
        barrier();
    }
    float r = red[0];
    barrier();
    return r;
}

float wg_max(float v)
{
    uint t = gl_LocalInvocationID.x;
    red[t] = v;
    barrier();
    for (uint h = gl_WorkGroupSize.x / 2u; h > 0u; h >>= 1) {
        if (t < h) red[t] = nanmax(red[t], red[t + h]);
        barrier();
    }
    float r = red[0];
    barrier();
    return r;
}
#endif

