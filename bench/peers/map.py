"""Map benchmark (bench/test_map.py): python3 map.py MODE N"""
import sys

mode, n = sys.argv[1], int(sys.argv[2])


def int_key(i):
    if mode == "int-collide":
        return i << 20
    return (i * 2654435761) & 1099511627775


def str_key(i):
    if mode == "str":
        return "k" + str(i * 7919)
    a, b = ("Aa", "BB") if mode == "str-collide" else ("xq", "zk")
    s = ""
    for k in range(17):
        s = s + (b if (i >> k) & 1 == 1 else a)
    return s


key = int_key if mode.startswith("int") else str_key
m = {}
for i in range(n):
    m[key(i)] = i
total = 0
for i in range(n):
    total += m[key(i)]
for i in range(0, n, 2):
    m.pop(key(i), None)
print(f"{total} {len(m)}")
