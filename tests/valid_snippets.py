"""Valid K programs covering every feature: each must check without diagnostics."""

VALID = {
"globals_funcs": """
int limit = 10;
int fib(int n) { if (n < 2) return n; return fib(n - 1) + fib(n - 2); }
print(fib(limit));
""",
"point_class": """
class Point {
    int x; int y;
    Point(int x, int y) { this.x = x; this.y = y; }
    int sum() { return x + y; }
}
int Point.dist2() { return x * x + y * y; }
Point p = new Point(3, 4);
print(p.dist2() + p.sum());
""",
"inheritance": """
class Animal {
    String name;
    int legs = 4;
    Animal(String name) { this.name = name; }
    String speak() { return "..."; }
    String describe() { return name + " says " + speak(); }
}
class Bird extends Animal {
    Bird(String name) { super(name); legs = 2; }
    String speak() { return "tweet"; }
}
Animal a = new Bird("tweety");
print(a.describe());
Func<String()> s = a.speak;
print(s());
""",
"device": """
class Hello extends Device {
    int opens;
    void open() { opens++; }
    void read(OutputStream out) { out.write("hello #" + opens + "\\n"); }
    int ioctl(int cmd, int arg) { if (cmd == 1) return arg; throw new DeviceError(Errno.ENOTTY, "bad"); }
}
Device.register("hello", new Hello());
""",
"exceptions": """
class MyError extends Exception {}
int f(int x) {
    try {
        if (x > 0) throw new MyError("pos");
        return 1;
    } catch (MyError e) {
        print(e.getMessage());
        return 2;
    } finally {
        print("done");
    }
}
print(f(1));
""",
"loops": """
int s = 0;
for (int i = 0; i < 10; i++) { if (i == 3) continue; if (i == 8) break; s += i; }
int j = 0;
while (j < 5) j++;
do { j--; } while (j > 0);
for (;;) { break; }
int[] a = [1, 2, 3];
for (int x : a) s += x;
for (var x : a) s -= x;
print(s);
""",
"arrays": """
Array<Array<int>> m = new Array<Array<int>>();
m.add([1, 2]);
int[] b = new int[3];
b[0] = 5; b[1] += 2;
String[] parts = "a,b".split(",");
print(parts.join("-") + m.size() + b[0]);
int[][] grid = new int[2][];
Array<int> c = [];
c.add(4);
int last = c.pop();
""",
"funcs_values": """
int twice(Func<int(int)> f, int x) { return f(f(x)); }
int inc(int x) { return x + 1; }
Func<int(int)> g = inc;
print(twice(g, 1));
print((g)(3));
Func<void(int)> p = null;
class Box { Func<int(int)> cb; int run(int x) { return cb(x); } }
Box bx = new Box();
bx.cb = inc;
print(bx.cb(2) + bx.run(3));
print(g == inc);
""",
"any_dynamic": """
Any a = 3;
int x = (int) a;
Any s = "hi";
Any n = s.length();
boolean b = a instanceof int;
Any[] arr = [1, "two", true];
print(a == 3);
Any obj = new Object();
Object o = (Object) obj;
""",
"casts": """
class A {} class B extends A {}
A a = new B();
B b = (B) a;
int v = 5;
int w = (v) - 1;
int z = (int) -v;
Any q = a;
int[] ia = (int[]) q;
Array<int> ib = (Array<int>) q;
""",
"literals": """
int a = 0x2A + 0b101010 + 0644 + 0o644 + 42;
int m = -9223372036854775808;
int mx = 9223372036854775807;
int all = 0xFFFFFFFFFFFFFFFF;
int c = 'a' + '\\n' + '\\x41' + '\\0';
String s = "tab\\t\\"q\\" \\\\ \\x41 \\r \\'";
boolean t = true & false | true ^ false;
""",
"strings": """
String s = "Hello";
int n = s.length() + s.charAt(0) + s.indexOf("l");
boolean b = s.contains("e") && s.startsWith("H") || s.endsWith("o");
String t = s.substring(1, 3).trim().toUpper().toLower().replace("e", "a").repeat(2);
int v = "42".toInt();
String c = String.fromChar(65);
s += 1;
s += true;
print(s + null + 'x');
""",
"math_system": """
int a = Math.min(1, 2) + Math.max(3, 4) + Math.abs(-5);
int t = System.nanoTime();
int r = System.random(10);
int p = System.pid();
String c = System.comm();
System.sleep(0);
""",
"ternary_joins": """
class A {} class B extends A {} class C extends A {}
boolean f = true;
A x = f ? new B() : new C();
String s = f ? "a" : null;
Any y = f ? 1 : "one";
int z = f ? 1 : 2;
""",
"definite_assignment": """
int f(boolean c) {
    int x;
    if (c) x = 1; else x = 2;
    int y;
    while (true) { y = 3; break; }
    int z;
    if (c && (z = 1) > 0) return z;
    return x + y;
}
""",
"missing_return_ok": """
int f(int x) {
    while (true) { if (x > 0) return x; x++; }
}
int g(int x) { if (x > 0) { return 1; } else { throw new Exception("neg"); } }
int h(int x) { do { return 1; } while (true); }
int k(int x) { for (;;) { } }
""",
"shadowing": """
class P {
    int x;
    void set(int x) { this.x = x; }
    int get() { int y = x; return y; }
}
int x = 1;
void f() { int x = 2; print(x); }
{ int q = 1; } { int q = 2; }
for (int i = 0; i < 1; i++) {} for (int i = 0; i < 1; i++) {}
""",
"implicit_ctor": """
class E extends Exception {}
class F extends E {}
E e = new E("msg");
F f = new F("msg2");
class D extends Device {}
D d = new D();
d.mode = 0644;
""",
"super_calls": """
class A { String name() { return "A"; } String toString() { return "A!"; } }
class B extends A { String name() { return "B" + super.name(); } String toString() { return super.toString() + "?"; } }
print(new B().name());
""",
"bool_compound": """
boolean b = true;
b &= false; b |= true; b ^= true;
int i = 5;
i <<= 2; i >>= 1; i >>>= 1; i %= 3; i *= 2; i /= 2; i -= 1; i &= 7; i |= 8; i ^= 1;
int[] a = [1];
a[0]++; --a[0];
""",
"forward_refs": """
print(later(2));
int later(int x) { return x * k; }
int k = 3;
class Q extends R {}
class R {}
""",
"void_func": """
void hello(String who) { print("hi " + who); return; }
hello("k");
Func<void(String)> h = hello;
h("x");
""",
"to_string_override": """
class V { int v; V(int v) { this.v = v; } String toString() { return "V" + v; } }
print(new V(3));
print("" + new V(4));
""",
"equality": """
class A {} class B extends A {}
A a = new A(); B b = new B();
boolean e1 = a == b;
boolean e2 = a != null;
Any q = 1;
boolean e3 = q == 1;
String s = "x";
boolean e4 = s == "x";
boolean e5 = null == null;
""",
"stream_methods": """
class Echo extends Device {
    String last = "";
    void write(InputStream in) { last = in.readAll(); int b = in.readByte(); int n = in.available(); }
    void read(OutputStream out) { out.write(last); out.writeByte(10); int s = out.size(); }
    void release() {}
}
""",
"nested_blocks_init": """
if (true) { int t = 1; print(t); }
while (false && true) ;
""",
"deviceerror": """
try { throw new DeviceError(Errno.EINVAL, "bad"); }
catch (DeviceError e) { print(e.errno() + " " + e.getMessage()); }
""",
"bound_method_in_class": """
class C {
    int v() { return 1; }
    Func<int()> getter() { return v; }
    Func<int()> getter2() { return this.v; }
}
""",
"char_ops": """
String s = "abc";
int n = 0;
for (int i = 0; i < s.length(); i++) if (s.charAt(i) == 'b') n++;
""",
"array_insert_remove": """
Array<String> a = new Array<String>();
a.add("x"); a.insert(0, "y"); String r = a.remove(1); a.clear();
Func<int(int)>[] fs = new Func<int(int)>[2];
""",
}
