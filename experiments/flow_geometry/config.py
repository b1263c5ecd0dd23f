"""The flow-geometry experiment's scales (grids: the thesis's ``FULL``, a coarser ``QUICK``) and the windows
and point counts that its numbers depend on."""
import dataclasses

NAME = "flow_geometry"


@dataclasses.dataclass(frozen=True)
class Scale:
    grid: int  # points per axis of every density and |det|^-1 grid
    line_points: int  # points along each mesh line of Figure 9


FULL = Scale(grid=301, line_points=400)
QUICK = Scale(grid=61, line_points=80)

EXP_SAMPLES = 13  # evenly spaced points of [-EXP_RANGE, EXP_RANGE] in Figure 8
EXP_RANGE = 3.0
FIG8_XLIM = (-3.5, 8.0)  # Figure 8's z' axis: the report counts the images beyond it
DENSITY_WINDOW = 4.5  # planar z_0 grid and radial z_K grid: [-4.5, 4.5]^2
DET_WINDOW = (-1.5, 3.5)  # Figures 10 and 14: centred on x = 1, y = 1, [1, 1]
PROFILE_POINTS = 801  # points along Figure 16's profile
