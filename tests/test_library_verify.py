"""The verifier types calls of the (1.1) Array natives whose signatures
name the receiver's own types: `Array<T> slice(int, int)` gives the
receiving array's type, `void sort(Func<int(T, T)>)` takes exactly the
Func type of a comparator of its elements.  A call that disagrees is
refused at load time, before any comparator runs.

The images are assembled with tests/tools/kasm.py from the program of
tests/test_verifier.py.
"""

from test_verifier import accepted, checker, image, refused  # noqa: F401

# Argument blocks: [ia, cmp] and [sa, scmp] sort with their comparators,
# [ia2, wrong] and [ib, scmp2] sort with the wrong ones, [sl, b, e] slices.
REGS = ("int[] ia; Func<int(int, int)> cmp; String[] sa; "
        "Func<int(String, String)> scmp; int[] ia2; Func<int(int)> wrong; "
        "int[] ib; Func<int(String, String)> scmp2; int[] sl; int b; int e; "
        "int[] res; String[] sres; boolean z; int i")


def test_sort_and_slice_with_their_types_load(checker):  # noqa: F811
    accepted(checker, image(
        "LOADI i, 3\nNEWARR ia, int[], i\nLOADNULL cmp\n"
        "CALLN _, Array.sort, ia\n"
        "NEWARR sa, String[], i\nLOADNULL scmp\nCALLN _, Array.sort, sa\n"
        "NEWARR sl, int[], i\nLOADI b, 0\nLOADI e, 2\n"
        "CALLN res, Array.slice, sl\n"
        "CALLN _, Array.reverse, ia\nCALLN z, Array.contains, sl", regs=REGS))


def test_sort_refuses_a_comparator_of_another_shape(checker):  # noqa: F811
    # the argument after int[] ia2 is a Func<int(int)>
    refused(checker, image("CALLN _, Array.sort, ia2", regs=REGS),
            "expected Func<int(int, int)>")


def test_sort_refuses_a_comparator_of_other_elements(checker):  # noqa: F811
    # the argument after int[] ib compares Strings
    refused(checker, image("CALLN _, Array.sort, ib", regs=REGS),
            "expected Func<int(int, int)>")


def test_slice_result_is_the_receivers_type(checker):  # noqa: F811
    # a slice of an int[] does not go into a String[] register
    refused(checker, image("CALLN sres, Array.slice, sl", regs=REGS),
            "int[]")


def test_sort_refused_when_the_image_lacks_the_comparator_type(checker):  # noqa: F811,E501
    # no register of this image is a Func<int(boolean, boolean)>
    refused(checker, image("CALLN _, Array.sort, bz",
                           regs="boolean[] bz; Func<int(int, int)> c"),
            "CALLN: register r1 has type Func<int(int, int)>")
