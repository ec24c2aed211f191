/* tests/install/main.c — a program built against an installed anygrad, through
 * find_package(anygrad) (shared and static targets) and through pkg-config. */
#include <anygrad.h>
#include <stdio.h>

int main(void)
{
    ag_device *dev = ag_device_open("cpu");
    ag_scope_begin();
    ag_tensor *x = ag_ones(dev, AG_F32, AG_SHAPE(2, 3));
    double sum = ag_item(ag_sum(x, 0, NULL, false));
    ag_scope_end();
    ag_device_close(dev);
    printf("anygrad %s: sum of ones [2,3] = %g\n", ag_version(), sum);
    return sum == 6.0 ? 0 : 1;
}
