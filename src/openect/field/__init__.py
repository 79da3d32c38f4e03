"""Electric field of ECT electrodes in tissue: geometry, conductivity, FEM, coverage.

Quasi-static model div(sigma(E) grad phi) = 0 on a conforming tetrahedral mesh built by
extruding a 2-D triangulation (needles and plates with their real cross-section) over
depth levels; P1 finite elements; algebraic-multigrid preconditioned CG; damped Picard
iteration for the electroporation conductivity; sequential electrode pairs with
monotone conductivity memory. Lengths in mm, potentials in V, fields in V/cm,
conductivities in S/m, currents in A.
"""
