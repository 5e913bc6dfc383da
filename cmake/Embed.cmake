# cmake -DIN=file -DOUT=file.c -DNAME=sym -P Embed.cmake
# Writes file's bytes as a C array (NUL-terminated) and its length, so the
# dashboard's HTML and JavaScript stay real files in broker/www/.
file(READ ${IN} hex HEX)
string(REGEX REPLACE "(..)" "0x\\1," arr "${hex}")
file(WRITE ${OUT} "/* generated from ${IN}; do not edit */\n"
  "const unsigned char ${NAME}[] = {${arr} 0x00};\n"
  "const unsigned long ${NAME}_len = sizeof(${NAME}) - 1;\n")
