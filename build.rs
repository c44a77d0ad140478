// The embedding binary must run the same libpython it was built against; without an
// rpath the dynamic loader may pick a different CPython of the same version (e.g. the
// distribution's), whose sys.prefix and site-packages differ from the build interpreter.
//
// The pyo3 cfgs (Py_3_11, Py_LIMITED_API, ...) gate the vectorcall fast path of hook calls.
fn main() {
    pyo3_build_config::add_libpython_rpath_link_args();
    pyo3_build_config::use_pyo3_cfgs();
}
