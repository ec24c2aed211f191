# Script mode: cmake -DOUT=file.c -DFILES="a.cl;b.cl" -P embed_sources.cmake
# Writes a C file holding every .cl file as a NUL-terminated byte array plus a
# table of (name, text) pairs in the given (sorted) order.
set(body "/* Generated from the shaders/opencl kernels at build time. Do not edit. */\n")
string(APPEND body "#include <stddef.h>\n\n")
set(table "")
set(i 0)
foreach(f IN LISTS FILES)
  get_filename_component(name ${f} NAME)
  file(READ ${f} hex HEX)
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
  string(REGEX REPLACE "((0x[0-9a-f][0-9a-f],){24})" "\\1\n" bytes "${bytes}")
  string(APPEND body "static const char src${i}[] = {\n${bytes}0x00};\n")
  string(APPEND table "    {\"${name}\", src${i}},\n")
  math(EXPR i "${i} + 1")
endforeach()
string(APPEND body "\nstruct agcl_source { const char *name; const char *text; };
const struct agcl_source agcl_embedded_sources[] = {\n")
string(APPEND body "${table}    {NULL, NULL},\n};\n")
string(APPEND body "const int agcl_embedded_source_count = ${i};\n")
file(WRITE ${OUT}.tmp "${body}")
file(RENAME ${OUT}.tmp ${OUT})
